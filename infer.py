r"""Classify video files with I3D: decode, sample and crop as evaluation does, print the top-5 of each stream.

    python infer.py --video my_video.mp4 --rgb_path pretrained/rgb_imagenet.ckpt
    python infer.py --video a.mp4 b.avi --rgb_path RGB.ckpt --flow_path FLOW.ckpt --annotation_path ANN.json \
        [--flow_method dis] [--num_val_samples 3] [--fusion softmax] [--json_out result.json]

A clip is what eval.py builds from a prepared frame tree (src/inference/video_clips.py): --num_val_samples
evenly spaced windows of --sample_duration frames (the centre one by default, loop-padded if the video is
shorter), or for a model whose input contract samples TSN segments (TSM) one frame from each of
--sample_duration segments (their centres by default); shorter side --short_side (0: 256, as prepare_dataset
stores frames), centre crop --spatial_size (--num_val_crops 3 or 10: that many views of every clip, as
eval.py); only the JPEG re-encoding of prepared frames is missing. The flow
stream runs when --flow_path is given, on optical flow computed on the fly (--flow_method; tvl1 takes seconds
per frame pair on a CPU, dis milliseconds), and both streams are fused as eval.py fuses them (--fusion,
--rgb_weight, --flow_weight). Class names: --labels (one per line), --annotation_path (a dataset's labels) or,
for a 400-class network, Kinetics-400's.

A checkpoint written by train.py brings its clip (its run's test_sample_duration, spatial_size and short side,
measured on the run's frames when they were used as stored) and, for a flow network, the flow method its flow
tree was made with, from the run's config.yaml beside it. Options given on the command line (or --config) win;
a printed line says which of them differ from training.
"""
import src  # noqa: F401  (runtime fixes before MindSpore runs anything)
from config import explicit_options, parse_config, training_runs
from src.context import init_context
from src.factory import (apply_training_settings, model_from_config, model_normalization,
                         resolve_num_classes, sampler_from_config)
from src.fileio import write_json
from src.entry import run_entry
from src.inference import (DEFAULT_SHORT_SIDE, check_video, class_names_for, classify_videos, format_predictions,
                           predictions_record)

TOP_K = 5
CROP_NAMES = {1: "centre crop", 3: "3 crops along the longer side", 10: "10 crops (corners, centre, mirrored)"}
# The settings a training run's config.yaml gives infer.py (src/factory/from_config.py TRAINED_ON)
TRAINED_OPTIONS = {"clip_len": "sample_duration", "spatial_size": "spatial_size", "short_side": "short_side",
                   "flow_method": "flow_method"}


def stream_checkpoints(cfg):
    """{stream: checkpoint}: --rgb_path and/or --flow_path, else --checkpoint_path for the --mode stream."""
    paths = {mode: path for mode, path in (("rgb", cfg.rgb_path), ("flow", cfg.flow_path)) if path}
    if not paths and cfg.checkpoint_path:
        paths = {cfg.mode: cfg.checkpoint_path}
    if not paths:
        raise ValueError("no network given: --rgb_path and/or --flow_path (or --checkpoint_path with --mode)")
    return paths


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="infer")
    if not cfg.video:
        raise ValueError("no video given: --video PATH [PATH ...]")
    for path in cfg.video:
        check_video(path)  # a missing or undecodable file fails now, not after the networks are built
    checkpoints = stream_checkpoints(cfg)
    cfg = apply_training_settings(cfg, training_runs(checkpoints.values()), explicit_options(argv), TRAINED_OPTIONS,
                                  short_side_as_number=True)
    init_context(cfg.device_target, cfg.device_id, cfg.context)
    num_classes = {mode: resolve_num_classes(cfg, checkpoint_path=path) for mode, path in checkpoints.items()}
    if len(set(num_classes.values())) > 1:
        raise ValueError(f"the rgb and flow checkpoints have different class counts: {num_classes}")
    classes = next(iter(num_classes.values()))
    class_names, names_from = class_names_for(classes, cfg.labels, cfg.annotation_path)
    networks = {mode: model_from_config(cfg, mode, classes, path, inference=True, clip_len=cfg.sample_duration)
                for mode, path in checkpoints.items()}
    short_side, sampler = cfg.short_side or DEFAULT_SHORT_SIDE, sampler_from_config(cfg)
    records = classify_videos(cfg.video, networks, clip_len=cfg.sample_duration, spatial_size=cfg.spatial_size,
                              num_clips=cfg.num_val_samples, short_side=short_side, flow_method=cfg.flow_method,
                              fusion=cfg.fusion, weights=(cfg.rgb_weight, cfg.flow_weight), progress=True,
                              normalization=model_normalization(cfg.model), clip_fusion=cfg.clip_fusion,
                              sampler=sampler, num_crops=cfg.num_val_crops)
    frames = "frames" if sampler == "dense" else "segment frames"
    print(f"{cfg.num_val_samples} clip(s) of {cfg.sample_duration} {frames} per video, shorter side {short_side}, "
          f"{CROP_NAMES[cfg.num_val_crops]} {cfg.spatial_size}; "
          f"class names: {names_from or 'none given (class indices)'}")
    print(format_predictions(records, class_names, TOP_K, cfg.fusion))
    if cfg.json_out:
        options = {"checkpoints": checkpoints, "sample_duration": cfg.sample_duration, "sampler": sampler,
                   "spatial_size": cfg.spatial_size, "short_side": short_side, "num_val_samples": cfg.num_val_samples,
                   "num_val_crops": cfg.num_val_crops,
                   "flow_method": cfg.flow_method if "flow" in checkpoints else None, "fusion": cfg.fusion,
                   "weights": {"rgb": cfg.rgb_weight, "flow": cfg.flow_weight}, "class_names_from": names_from}
        write_json(cfg.json_out, predictions_record(records, class_names, options, TOP_K))
        print(f"predictions written to {cfg.json_out}")
    return records


if __name__ == "__main__":
    run_entry(main)
