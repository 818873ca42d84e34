r"""Export a trained (or converted) network to MINDIR, ONNX or AIR, verified against the network.

    python export.py --checkpoint_path pretrained/rgb_imagenet.ckpt --mode rgb --file_format ONNX \
        --file_name outputs/i3d_rgb --batch_size 1 --sample_duration 64 --spatial_size 224

A checkpoint written by train.py brings its clip shape (test_sample_duration, spatial_size) from its run's
config.yaml beside it, unless --sample_duration / --spatial_size say otherwise.
"""

import src  # noqa: F401  (runtime fixes before MindSpore runs anything)
from config import explicit_options, parse_config, training_runs
from src.context import init_context
from src.deploy import export_model
from src.deploy.export import check_export_request
from src.entry import run_entry
from src.models.cpu_kernels import plan_mindspore_convolutions
from src.factory import apply_training_settings, in_channels_for, model_from_config, resolve_num_classes

# The settings a training run's config.yaml gives export.py: the clip shape (src/factory/from_config.py)
TRAINED_OPTIONS = {"clip_len": "sample_duration", "spatial_size": "spatial_size"}


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="export")
    check_export_request(cfg.file_format, cfg.device_target, cfg.dynamic_batch)
    if cfg.checkpoint_path:
        cfg = apply_training_settings(cfg, training_runs([cfg.checkpoint_path]), explicit_options(argv),
                                      TRAINED_OPTIONS)
    init_context(cfg.device_target, cfg.device_id, cfg.context)
    # The export is checked by running the file: a MINDIR runs MindSpore's own Conv3D, which needs oneDNN
    # capped at AVX2 on CPU for the whole process (src/models/cpu_kernels.py), planned before any network.
    plan_mindspore_convolutions("export.py's check of the exported file")
    num_classes = resolve_num_classes(cfg, checkpoint_path=cfg.checkpoint_path)
    net = model_from_config(cfg, cfg.mode, num_classes, cfg.checkpoint_path, inference=True,
                            clip_len=cfg.sample_duration)
    shape = (cfg.batch_size, in_channels_for(cfg.mode), cfg.sample_duration, cfg.spatial_size, cfg.spatial_size)
    path = export_model(net, cfg.file_name, cfg.file_format, shape, device_target=cfg.device_target,
                        dynamic_batch=cfg.dynamic_batch, verify=cfg.verify_export)
    checked = " (verified against the network)" if cfg.verify_export and cfg.file_format != "AIR" else ""
    print(f"exported {cfg.mode} {cfg.model} for input {shape} to {path}{checked}")
    return path


if __name__ == "__main__":
    run_entry(main)
