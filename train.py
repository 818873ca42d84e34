r"""Train I3D: fine-tune from Kinetics-400 weights (or from scratch) on one stream, rgb or flow.

    python train.py --dataset hmdb51 --mode rgb --video_path data/hmdb51/frames \
        --annotation_path data/hmdb51/annotations/hmdb51_1.json --checkpoint_path pretrained/rgb_imagenet.ckpt \
        --num_epochs 32 --save_dir output_standalone/hmdb51_rgb [--config my.yaml] [--resume]

Writes to save_dir: config.yaml (the resolved options), <model>-<epoch>_<steps>.ckpt every
checkpoint_frequency epochs (the newest checkpoints_num_keep kept), <model>-best.ckpt (validation top-1; a hard
link when it is an epoch checkpoint), history.json, history.png and run.json (the run's id, facts and files). A
save_dir holding another run is refused unless --resume (continue it) or --overwrite_run. Distributed:
scripts/run_distribute_train_msrun.sh (msrun: CPU, GPU, Ascend) or scripts/run_distribute_train.sh (Ascend
rank table).
"""
import logging
import os

import src  # noqa: F401  (runtime fixes before MindSpore runs anything)
from config import explicit_options, parse_config, save_config
from mindspore import nn
from src.cloud import openi_job
from src.context import init_context, init_distributed, launcher_device_id, set_global_seed
from src.entry import run_entry
from src.evaluation import network_predictor, report, video_scores
from src.factory import (apply_model_input, check_one_clip_length, classifier_lr_multipliers, create_lr_schedule,
                         create_optimizer, dataset_from_config, freeze_batch_norms, model_from_config,
                         resolve_num_classes, stream_paths)
from src.training.callbacks import test_hooks_from_environment
from src.training.checkpoint import CheckpointManager, read_run_state
from src.training.history import FILES as HISTORY_FILES
from src.training.history import TrainingHistory
from src.training.run_folder import CONFIG, RunFolder, run_facts
from src.training.trainer import Trainer, build_train_step


def lr_options(cfg):
    if cfg.lr_schedule == "step":
        return {"decay_rate": cfg.lr_de_rate, "decay_epochs": cfg.lr_de_epochs}
    if cfg.lr_schedule == "multistep":
        return {"decay_rate": cfg.lr_de_rate, "milestones": cfg.lr_milestones}
    if cfg.lr_schedule == "cyclic":
        return {"max_lr": cfg.max_lr, "half_cycle_epochs": cfg.lr_half_cycle_epochs}
    return {"min_lr": cfg.min_lr, "warmup_epochs": cfg.warmup_epochs}


def train(cfg):
    rank, group_size = 0, 1
    init_context(cfg.device_target, launcher_device_id(cfg.device_id) if cfg.distributed else cfg.device_id,
                 cfg.context)
    if cfg.distributed:
        rank, group_size = init_distributed(cfg.device_target, cfg.device_num)
    is_main = rank == 0
    set_global_seed(cfg.seed)
    sink_mode = cfg.sink_mode and cfg.device_target != "CPU"
    if cfg.sink_mode and not sink_mode:
        print("sink_mode: MindSpore runs CPU training un-sunk (it would silently ignore the flag); training "
              "step by step")

    # run.json says which files in save_dir are this run's: only those are pruned, replaced or resumed from.
    run = RunFolder(cfg.save_dir, enabled=is_main)
    checkpoints = CheckpointManager(cfg.save_dir, prefix=cfg.model, keep=cfg.checkpoints_num_keep, enabled=is_main,
                                    run=run)
    written_by_a_run = [name for name in (os.listdir(cfg.save_dir) if os.path.isdir(cfg.save_dir) else [])
                        if name in (CONFIG, *HISTORY_FILES) or checkpoints.is_checkpoint_name(name)]
    if cfg.resume:
        run.resume(written_by_a_run)
    else:
        run.start(written_by_a_run, overwrite=cfg.overwrite_run)
    resume_from = checkpoints.latest() if cfg.resume else None
    if cfg.resume and resume_from is None:
        print(f"--resume: no complete checkpoint in {cfg.save_dir} yet; starting at epoch {cfg.start_epoch}")
    # The data of a resumed run starts where the checkpoint ends: read its epoch count before building it.
    start_epoch = cfg.start_epoch
    if resume_from:
        start_epoch = read_run_state(resume_from)[1]
    if start_epoch >= cfg.num_epochs:
        raise ValueError(f"nothing to train: start epoch {start_epoch} >= num_epochs {cfg.num_epochs}")

    video_path, annotation_path = stream_paths(cfg, cfg.mode)
    train_data, source = dataset_from_config(cfg, "training", cfg.mode, video_path, annotation_path,
                                             num_shards=group_size, shard_id=rank, start_epoch=start_epoch,
                                             num_epochs=cfg.num_epochs - start_epoch)
    num_classes = resolve_num_classes(cfg, len(source.class_names))
    if num_classes != len(source.class_names):
        raise ValueError(f"{annotation_path}: {len(source.class_names)} classes, but the network would have "
                         f"{num_classes} (num_classes / finetune_num_classes)")
    steps_per_epoch = train_data.get_dataset_size() // (cfg.num_epochs - start_epoch)
    facts = run_facts(cfg, num_classes, len(source.records), steps_per_epoch, group_size)
    if cfg.resume:
        run.check_continues(facts, resume_from, checkpoints.steps_per_epoch(resume_from))
    net = model_from_config(cfg, cfg.mode, num_classes, cfg.checkpoint_path, cfg.finetune_prefixes,
                            clip_len=check_one_clip_length(cfg))
    if cfg.partial_bn != "off":  # before the optimizer: the frozen gammas and betas are not among its parameters
        trained, frozen = freeze_batch_norms(net, cfg.partial_bn, cfg.model)
        if is_main:
            what = "moving statistics, gamma, beta" if cfg.partial_bn == "frozen" else \
                "gamma, beta; their moving statistics still follow the batches"
            kept = f"{trained[0]} trains" if len(trained) == 1 else \
                f"{trained[0]} and {len(trained) - 1} 2-D BatchNorms train"
            print(f"partial_bn {cfg.partial_bn}: {kept}; {len(frozen)} other BatchNorms frozen ({what})")
    lr = create_lr_schedule(cfg.lr_schedule, cfg.lr, steps_per_epoch, cfg.num_epochs, **lr_options(cfg))
    loss_scale = 1.0 if cfg.amp_level == "O0" else cfg.loss_scale
    optimizer = create_optimizer(cfg.optimizer, net.trainable_params(), lr, momentum=cfg.momentum,
                                 weight_decay=cfg.weight_decay, loss_scale=loss_scale,
                                 lr_multipliers=classifier_lr_multipliers(cfg.model) if cfg.fc_lr5 else None)
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    train_step = build_train_step(net, loss_fn, optimizer, cfg.amp_level, cfg.loss_scale, cfg.device_target,
                                  clip_grad_norm=cfg.clip_grad_norm)

    evaluate = None
    if not cfg.no_eval and is_main:
        val_data, val_source = dataset_from_config(cfg, "validation", cfg.mode, video_path, annotation_path)

        def evaluate(network):
            scores, labels = video_scores(network_predictor(network), val_data, val_source, desc="validation",
                                          clip_fusion=cfg.clip_fusion)
            return report(scores, labels, val_source.class_names)

    history = TrainingHistory(cfg.save_dir, chance=1.0 / num_classes, enabled=is_main, run=run,
                              title=f"{cfg.model} {cfg.mode} stream on {cfg.dataset} ({num_classes} classes)")
    trainer = Trainer(net, train_step, checkpoints, history, evaluate=evaluate, is_main=is_main,
                      sink_mode=sink_mode, rank=rank, progress_every=cfg.progress_every,
                      callbacks=test_hooks_from_environment(rank))
    if resume_from:
        trainer.restore(resume_from)
        history.resume(start_epoch, steps_per_epoch)
        print(f"resumed from {resume_from}: epoch {start_epoch} of {cfg.num_epochs} done")
    elif start_epoch:
        optimizer.global_step.set_data(optimizer.global_step.asnumpy() * 0 + start_epoch * steps_per_epoch)
    run.record_facts(facts)  # the run is set up: from here on, run.json describes it
    if cfg.resume:
        run.remove_stale_partial_files()
    if is_main:
        save_config(cfg, run.claim(os.path.join(cfg.save_dir, CONFIG)))
        print(f"training {cfg.model} ({cfg.mode}, {num_classes} classes) on {len(source.records)} videos "
              f"x {cfg.num_epochs - start_epoch} epochs, {steps_per_epoch} steps of {cfg.batch_size} clips"
              + (f" per device on {group_size} devices" if group_size > 1 else "") + f" -> {cfg.save_dir}")
    trainer.fit(train_data, start_epoch, cfg.num_epochs, lr, checkpoint_frequency=cfg.checkpoint_frequency)
    if is_main:
        best = history.best()
        if best:
            print(f"best validation top-1 {best['val_top1']:.4f} at epoch {best['epoch']}: {checkpoints.best_path}")
    return history


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = apply_model_input(parse_config(argv, description=__doc__, script="train"), explicit_options(argv))
    with openi_job(cfg) as cfg:
        return train(cfg)


if __name__ == "__main__":
    run_entry(main)
