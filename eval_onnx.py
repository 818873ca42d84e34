r"""Evaluate exported ONNX models with ONNX Runtime (CPU, or CUDA with --device_target GPU): rgb, flow or joint.

    python eval_onnx.py --test_mode rgb --rgb_path i3d_rgb.onnx --dataset hmdb51 --video_path ... \
        --annotation_path ... [--device_target GPU]

The same evaluation as eval.py (same clips, fusion, metrics and files): eval.py runs a .onnx path through ONNX
Runtime; this entry point only insists that the models are ONNX files.
"""
import src  # noqa: F401  (runtime fixes before MindSpore runs anything)
import eval as evaluation
from config import explicit_options, parse_config
from src.cloud import openi_job
from src.entry import run_entry


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="eval_onnx")
    test_mode = cfg.test_mode or cfg.mode
    for mode in (("rgb", "flow") if test_mode == "joint" else (test_mode,)):
        path = evaluation.checkpoint_for(cfg, mode)
        if not path.endswith(".onnx"):
            raise ValueError(f"--{mode}_path {path}: eval_onnx.py evaluates .onnx files (export.py --file_format "
                             "ONNX); eval.py evaluates checkpoints")
    with openi_job(cfg) as cfg:
        return evaluation.evaluate(cfg, explicit_options(argv))


if __name__ == "__main__":
    run_entry(main)
