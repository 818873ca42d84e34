"""The one mapping from configuration options (config.py) to factory arguments, for every entry script."""
import argparse

from ..data.layout import find_video_folders, read_flow_method
from .data_factory import create_dataset
from ..models import default_cfg, model_entrypoint
from .model_factory import create_model, declared_arguments

KINETICS_CLASSES = 400


def checkpoint_num_classes(path, model="i3d"):
    """The class count of a checkpoint's classifier, or None if it has none."""
    from ..weights import read_checkpoint
    bias = read_checkpoint(path).get(f"{default_cfg(model)['classifier']}.bias")
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


def model_normalization(model):
    """The input scaling of a registered model (its default_cfg input mean and std, and flow_mean / flow_std where
    its flow input has its own)."""
    from ..data.normalization import Normalization
    contract = default_cfg(model)["input"]
    flow = {key: tuple(contract[key]) for key in ("flow_mean", "flow_std") if key in contract}
    return Normalization(tuple(contract["mean"]), tuple(contract["std"]), **flow)


def model_sampler(model):
    """The temporal sampling of a registered model (its default_cfg input sampler: "dense" or "segments")."""
    return default_cfg(model)["input"]["sampler"]


def sampler_from_config(cfg):
    """cfg.model's temporal sampling, in its evaluation variant where cfg asks for one (twice_sample: the TSN
    segments' centres and starts, mit-han-lab's --twice_sample; data_factory.SAMPLER_VARIANTS)."""
    sampler = model_sampler(cfg.model)
    if not cfg.twice_sample:
        return sampler
    if sampler != "segments":
        raise ValueError(f"twice_sample is for TSN segment sampling (TSM); {cfg.model} samples {sampler} windows")
    return "segments_twice"


# The clip options a model's input contract gives (default_cfg "input" key -> options).
MODEL_INPUT_OPTIONS = {"clip_len": ("train_sample_duration", "test_sample_duration", "sample_duration"),
                       "crop_size": ("spatial_size",), "short_side": ("short_side",)}


def apply_model_input(cfg, explicit, report=print):
    """`cfg` with the clip options of its model's input contract (a 3D-ResNet's 16 x 112 x 112 clips, I3D's 64 x
    224 x 224), except the options in `explicit` (the command line, --config: config.explicit_options). Comes
    before a training run's own record (apply_training_settings), which comes before the command line."""
    contract = default_cfg(cfg.model)["input"]
    cfg, changed = argparse.Namespace(**vars(cfg)), []
    for key, options in MODEL_INPUT_OPTIONS.items():
        for option in options:
            if option not in explicit and getattr(cfg, option) != contract[key]:
                setattr(cfg, option, contract[key])
                changed.append(f"{option} {contract[key]}")
    if changed:
        report(f"{cfg.model}'s input: " + ", ".join(changed))
    return cfg


def dataset_from_config(cfg, subset, mode, video_path, annotation_path, num_shards=1, shard_id=0,
                        start_epoch=0, num_epochs=1):
    """The dataset of a stream, sampled, clipped and scaled as cfg.model takes its input."""
    training = subset == "training"
    return create_dataset(cfg.dataset, video_path, annotation_path, subset, mode,
                          clip_len=cfg.train_sample_duration if training else cfg.test_sample_duration,
                          spatial_size=cfg.spatial_size, batch_size=cfg.batch_size,
                          num_val_samples=cfg.num_val_samples, num_val_crops=cfg.num_val_crops,
                          short_side=cfg.short_side or None,
                          train_crop="multiscale" if cfg.multiscale_crop else cfg.train_crop,
                          min_crop_area=cfg.min_crop_area, num_workers=cfg.num_workers, num_shards=num_shards,
                          shard_id=shard_id, seed=cfg.seed, start_epoch=start_epoch, num_epochs=num_epochs,
                          normalization=model_normalization(cfg.model), sampler=sampler_from_config(cfg))


def model_from_config(cfg, mode, num_classes, checkpoint_path=None, trainable_prefixes=None, inference=False,
                      clip_len=None):
    """inference: the checkpoint must bring its own classifier of `num_classes` (no new head).
    clip_len: the frames per clip the network will see. A network that takes a fixed number of frames (its
    constructor declares `num_segments`: TSM) is built for it unless model_args sets num_segments, which must then
    agree; one that needs at least `min_clip_len` frames (its contract: P3D's 16) refuses fewer. One line says so
    before anything runs."""
    prefixes = [p.strip() for p in (trainable_prefixes or "").split(",") if p.strip()]
    model_args = dict(cfg.model_args or {})
    shortest = default_cfg(cfg.model)["input"].get("min_clip_len", 1)
    if clip_len and clip_len < shortest:
        raise ValueError(f"{cfg.model} takes clips of at least {shortest} frames, got {clip_len} (the clip length "
                         f"options: train/test_sample_duration, sample_duration)")
    if clip_len and "num_segments" in declared_arguments(model_entrypoint(cfg.model)):
        segments = model_args.setdefault("num_segments", clip_len)
        if segments != clip_len:
            raise ValueError(f"{cfg.model} takes clips of exactly num_segments frames: model_args num_segments "
                             f"{segments}, but its clips have {clip_len} frames")
    return create_model(cfg.model, num_classes=num_classes, mode=mode, dropout_keep_prob=cfg.dropout_keep_prob,
                        checkpoint_path=checkpoint_path or None, cross_modality=cfg.cross_modality,
                        trainable_prefixes=prefixes, bn_momentum=cfg.bn_momentum, model_args=model_args,
                        require_classifier=inference and bool(checkpoint_path))


def check_one_clip_length(cfg):
    """train.py validates the network it trains: a network of fixed frames per clip (TSM) needs its training and
    evaluation clips alike."""
    if ("num_segments" in declared_arguments(model_entrypoint(cfg.model)) and not cfg.no_eval
            and cfg.train_sample_duration != cfg.test_sample_duration):
        raise ValueError(f"{cfg.model} takes clips of exactly num_segments frames: train_sample_duration "
                         f"{cfg.train_sample_duration} and test_sample_duration {cfg.test_sample_duration} differ "
                         f"(give both the same, or --no_eval)")
    return cfg.train_sample_duration


# What a network was trained to see, by the option of its training run's config.yaml that records it. The clip
# length is the run's evaluation clip (test_sample_duration): what its validation scores were measured on.
TRAINED_ON = {"clip_len": "test_sample_duration", "spatial_size": "spatial_size", "short_side": "short_side",
              "flow_method": "flow_method"}


def stored_short_side(tree, mode):
    """The shorter side of the frames stored in a prepared frame or flow tree (its first video's first frame)."""
    from ..data.frames import LOADERS
    folders, _ = find_video_folders(tree)
    if not folders:
        raise FileNotFoundError(f"{tree}: no video folders to measure")
    return int(min(LOADERS[mode](folders[0][1], [0]).shape[1:3]))


def trained_settings(run_config, wanted, short_side_as_number=False):
    """({setting: value}, {setting: why it is unknown}) of a training run's config (read_run_config), for the
    settings `wanted`.

    short_side 0 means "as stored in the run's tree": evaluation of prepared frames reads it so; for video files
    (short_side_as_number) the stored frames are measured. A flow run's flow method is the one its flow tree
    records (prepare_dataset writes it), not the run's flow_method option, which training does not use.
    """
    path, run = run_config
    mode, tree = run.get("mode", "rgb"), run.get("video_path", "")
    settings, unknown = {}, {}
    for setting in wanted:
        if setting == "flow_method":
            if mode == "flow":
                method = read_flow_method(tree) if tree else None
                if method:
                    settings[setting] = method
                else:
                    unknown[setting] = (f"{path}: its flow tree '{tree}' records no flow method (prepared before "
                                        "prepare_dataset recorded it); give --flow_method as it was prepared")
        elif TRAINED_ON[setting] in run:
            settings[setting] = run[TRAINED_ON[setting]]
    if "short_side" in settings and not settings["short_side"] and short_side_as_number:
        try:
            settings["short_side"] = stored_short_side(tree, mode)
        except (OSError, ValueError) as error:
            del settings["short_side"]
            unknown["short_side"] = (f"{path}: trained on frames as stored, but their size is unknown ({error}); "
                                     "give --short_side")
    return settings, unknown


def apply_training_settings(cfg, runs, explicit, options, short_side_as_number=False, report=print):
    """`cfg` with the clip settings the networks were trained with, from their training runs' configs (`runs`:
    config.training_runs), except options in `explicit` (given on the command line or by --config:
    config.explicit_options): those win, and a line says where they differ from training.

    options: {setting of TRAINED_ON: this script's option}, e.g. {"clip_len": "sample_duration"}. Runs that
    disagree on a setting nobody overrides are an error: one clip cannot match both. `report` gets a line for
    what was taken, one for what differs from training, and one per setting that could not be known.
    """
    cfg = apply_model_input(cfg, explicit, report)
    cfg, taken, differ, notes = argparse.Namespace(**vars(cfg)), {}, [], []
    trained = {}  # setting -> {value: [config paths]}
    for run in runs:
        settings, unknown = trained_settings(run, options, short_side_as_number)
        notes += [note for setting, note in unknown.items() if options[setting] not in explicit]
        for setting, value in settings.items():
            trained.setdefault(setting, {}).setdefault(value, []).append(run[0])
    for setting, values in trained.items():
        option = options[setting]
        if option in explicit:
            other = {value: paths for value, paths in values.items() if value != getattr(cfg, option)}
            differ += [f"--{option} {getattr(cfg, option)} (trained with {value}: {', '.join(paths)})"
                       for value, paths in other.items()]
        elif len(values) > 1:
            raise ValueError(f"the training runs disagree on {TRAINED_ON[setting]}: "
                             + "; ".join(f"{', '.join(paths)}: {value}" for value, paths in values.items())
                             + f"; give --{option}")
        else:
            value = next(iter(values))
            setattr(cfg, option, value)
            taken[option] = value
    if taken:
        sources = sorted({path for values in trained.values() for paths in values.values() for path in paths})
        report(f"from the training run ({', '.join(sources)}): "
               + ", ".join(f"{option} {value}" for option, value in taken.items()))
    if differ:
        report("differs from training: " + "; ".join(differ))
    for note in notes:
        report(note)
    return cfg
