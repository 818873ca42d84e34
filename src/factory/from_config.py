"""The one mapping from configuration options (config.py) to factory arguments, for every entry script."""
from .data_factory import create_dataset
from .model_factory import create_model

KINETICS_CLASSES = 400


def checkpoint_num_classes(path, model="i3d"):
    """The class count of a checkpoint's classifier, or None if it has none."""
    from ..models import default_cfg
    from ..weights import read_checkpoint
    bias = read_checkpoint(path).get(f"{default_cfg(model)['classifier']}.conv.bias")
    return None if bias is None else int(bias.shape[0])


def resolve_num_classes(cfg, dataset_classes=None, checkpoint_path=None):
    """finetune_num_classes, else num_classes, else the dataset's class count, else the checkpoint's classifier
    size (export), else Kinetics-400's."""
    for value in (cfg.finetune_num_classes, cfg.num_classes, dataset_classes):
        if value:
            return int(value)
    return (checkpoint_path and checkpoint_num_classes(checkpoint_path, cfg.model)) or KINETICS_CLASSES


def stream_paths(cfg, mode, joint=False):
    """(frame tree, annotation) of a stream; in a joint evaluation the flow stream has its own options."""
    if joint and mode == "flow":
        video_path, annotation_path = cfg.video_path_joint_flow, cfg.annotation_path_joint_flow or cfg.annotation_path
        names = "--video_path_joint_flow / --annotation_path_joint_flow"
    else:
        video_path, annotation_path, names = cfg.video_path, cfg.annotation_path, "--video_path / --annotation_path"
    if not video_path or not annotation_path:
        raise ValueError(f"the {mode} stream needs {names}")
    return video_path, annotation_path


def dataset_from_config(cfg, subset, mode, video_path, annotation_path, num_shards=1, shard_id=0,
                        start_epoch=0, num_epochs=1):
    training = subset == "training"
    return create_dataset(cfg.dataset, video_path, annotation_path, subset, mode,
                          clip_len=cfg.train_sample_duration if training else cfg.test_sample_duration,
                          spatial_size=cfg.spatial_size, batch_size=cfg.batch_size,
                          num_val_samples=cfg.num_val_samples, short_side=cfg.short_side or None,
                          multiscale=cfg.multiscale_crop, num_workers=cfg.num_workers, num_shards=num_shards,
                          shard_id=shard_id, seed=cfg.seed, start_epoch=start_epoch, num_epochs=num_epochs)


def model_from_config(cfg, mode, num_classes, checkpoint_path=None, trainable_prefixes=None, inference=False):
    """inference: the checkpoint must bring its own classifier of `num_classes` (no new head)."""
    prefixes = [p.strip() for p in (trainable_prefixes or "").split(",") if p.strip()]
    return create_model(cfg.model, num_classes=num_classes, mode=mode, dropout_keep_prob=cfg.dropout_keep_prob,
                        checkpoint_path=checkpoint_path or None, cross_modality=cfg.cross_modality,
                        trainable_prefixes=prefixes, bn_momentum=cfg.bn_momentum,
                        require_classifier=inference and bool(checkpoint_path))
