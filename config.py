"""The one definition of every option, shared by train.py, eval.py, export.py, preprocess.py, postprocess.py.

Resolution order: an option's default < the YAML file given by --config < the command line. Unknown keys
(in the YAML or on the command line) are errors; booleans parse as booleans (`--flag`, `--flag=False`,
`flag: false`); values are checked against their type and choices wherever they come from. A list option
(`nargs`) takes several values on the command line (`--video a.mp4 b.mp4`) and a list (or one value) in YAML.
"""
import argparse
import os
from collections import namedtuple

import yaml

Option = namedtuple("Option", "name type default help choices nargs")


def str2bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got '{value}'")


def _context_mode(value):
    """graph | pynative, also the upstream spellings gr | py."""
    return {"gr": "graph", "py": "pynative"}.get(str(value).lower(), str(value).lower())


def _opt(name, type_, default, help_, choices=None, nargs=None):
    return Option(name, type_, default, help_, choices, nargs)


def _lower(value):
    return str(value).lower()


# Grouped for --help; every entry script accepts every option, so one YAML file serves them all. The names
# are the upstream ModelZoo I3D's (config.py, eval.py, export.py), so its commands keep working.
OPTION_GROUPS = {
    "model": [
        _opt("model", str, "i3d", "registered backbone (src/models)"),
        _opt("mode", str, "rgb", "stream: rgb (3 channels) or flow (x, y: 2 channels)", ("rgb", "flow")),
        _opt("num_classes", int, 0, "classes of the network; 0: the dataset's (training, evaluation) or 400 "
             "(Kinetics: export)"),
        _opt("finetune_num_classes", int, 0, "upstream name: classes of the fine-tuned head; overrides "
             "num_classes (the checkpoint's own head size is read from the checkpoint)"),
        _opt("finetune_prefixes", str, "", "comma-separated parameter-name prefixes to train (upstream: "
             "'logits,Mixed_5'); empty: train every layer"),
        _opt("dropout_keep_prob", float, 0.5, "keep probability of the dropout before the classifier"),
        _opt("bn_momentum", float, 0.99, "BatchNorm momentum, MindSpore convention (weight KEPT from the old "
             "statistic; PyTorch 0.01 = 0.99 here)"),
        _opt("checkpoint_path", str, "", "checkpoint to start from (a classifier of another size is replaced)"),
        _opt("cross_modality", str2bool, False, "flow net from an RGB checkpoint: first conv averaged over RGB"),
    ],
    "data": [
        _opt("dataset", str, "hmdb51", "dataset (src/factory/data_factory.py DATASETS)",
             ("hmdb51", "ucf101", "sample", "video_json")),
        _opt("video_path", str, "", "frame tree of the stream (joint evaluation: the rgb tree)"),
        _opt("annotation_path", str, "", "annotation JSON (hmdb51_json.py / ucf101_json.py output)"),
        _opt("video_path_joint_flow", str, "", "joint evaluation: the flow frame tree"),
        _opt("annotation_path_joint_flow", str, "", "joint evaluation: the flow annotation (default: "
             "annotation_path)"),
        _opt("train_sample_duration", int, 64, "frames per training clip"),
        _opt("test_sample_duration", int, 64, "frames per evaluation clip"),
        _opt("num_val_samples", int, 1, "evaluation clips per video, evenly spaced, scores averaged per video"),
        _opt("spatial_size", int, 224, "crop height and width"),
        _opt("short_side", int, 0, "resize frames to this shorter side before cropping; 0: as stored (infer.py: "
             "256, the size prepare_dataset stores)"),
        _opt("multiscale_crop", str2bool, False, "training: multi-scale corner crops (TSN) instead of a random crop"),
        _opt("batch_size", int, 8, "clips per batch (per device when distributed)"),
        _opt("num_workers", int, 2, "data worker processes"),
        _opt("seed", int, 1, "seed of Python, numpy, MindSpore, data order and augmentation"),
    ],
    "training": [
        _opt("optimizer", _lower, "adam", "optimizer", ("adam", "sgd", "rmsprop")),
        _opt("lr", float, 0.001, "base learning rate (per step schedule)"),
        _opt("lr_schedule", str, "step", "step: lr x lr_de_rate every lr_de_epochs (upstream); cosine: to min_lr",
             ("step", "cosine")),
        _opt("lr_de_rate", float, 0.5, "step schedule: decay factor"),
        _opt("lr_de_epochs", int, 5, "step schedule: epochs between decays"),
        _opt("warmup_epochs", int, 0, "cosine schedule: linear warm-up epochs"),
        _opt("min_lr", float, 0.0, "cosine schedule: final learning rate"),
        _opt("momentum", float, 0.9, "sgd and rmsprop momentum"),
        _opt("weight_decay", float, 1e-8, "L2 weight decay of convolution and classifier weights (not BN, bias)"),
        _opt("start_epoch", int, 0, "epoch to start at: the lr schedule and data order continue from there"),
        _opt("num_epochs", int, 32, "epochs in the whole run"),
        _opt("resume", str2bool, False, "continue from the last complete checkpoint in save_dir (weights, "
             "optimizer state, lr position, history)"),
        _opt("save_dir", str, "./output_standalone", "checkpoints, resolved config, history and plots; run.json "
             "lists the files of the run there (only those are pruned or resumed from)"),
        _opt("overwrite_run", str2bool, False, "start a new run in a save_dir that holds another run: its config, "
             "history and same-named checkpoints are replaced, its other files kept (never pruned)"),
        _opt("checkpoint_frequency", int, 1, "save a checkpoint every this many epochs (and after the last)"),
        _opt("checkpoints_num_keep", int, 16, "epoch checkpoints kept (the best one is kept besides)"),
        _opt("no_eval", str2bool, False, "skip validation after each epoch"),
        _opt("progress_every", int, 0, "training steps between progress lines when the output is not a terminal "
             "(0: about ten per epoch; a terminal shows a progress bar)"),
        _opt("amp_level", str, "O0", "mixed precision level (O0: float32)", ("O0", "O1", "O2", "O3")),
        _opt("loss_scale", float, 1024.0, "fixed loss scale used with amp_level O2/O3"),
        _opt("sink_mode", str2bool, False, "dataset sink mode (Ascend/GPU; CPU runs un-sunk)"),
        _opt("distributed", str2bool, False, "data-parallel training over the devices of the launcher (msrun or "
             "an HCCL rank table)"),
        _opt("device_num", int, 0, "devices in the job; 0: from the launcher (checked against it when given)"),
    ],
    "evaluation": [
        _opt("test_mode", str, "", "rgb, flow or joint; empty: the --mode stream", ("", "rgb", "flow", "joint")),
        _opt("rgb_path", str, "", "rgb checkpoint (upstream name); default: checkpoint_path in rgb mode"),
        _opt("flow_path", str, "", "flow checkpoint (upstream name); default: checkpoint_path in flow mode"),
        _opt("fusion", str, "logits", "joint: sum of logits (DeepMind, upstream) or mean of softmax",
             ("logits", "softmax")),
        _opt("rgb_weight", float, 1.0, "joint: weight of the rgb scores"),
        _opt("flow_weight", float, 1.0, "joint: weight of the flow scores"),
        _opt("checkpoint_dir", str, "", "multi-checkpoint evaluation: folder of <model>-<epoch>_<step>.ckpt files"),
        _opt("checkpoint_epochs", str, "", "multi-checkpoint evaluation: epochs, e.g. '3-10' or '4,8,12'"),
        _opt("result_dir", str, "./eval_result", "metrics JSON, predictions, confusion matrix, summary.txt"),
    ],
    "clip": [
        _opt("sample_duration", int, 64, "export and inference: frames per clip"),
    ],
    "inference": [
        _opt("preprocess_result", str, "./preprocess_Result", "preprocess.py output: data/ and label/ per "
             "dataset and stream"),
        _opt("infer_output_path", str, "./infer_310_Result", "the inference program's output: "
             "<dataset>/<mode>/result_Files/ and time_Result/"),
    ],
    "demo": [  # infer.py: video files -> top-5 classes
        _opt("video", str, [], "infer.py: video file(s) to classify (anything OpenCV decodes)", nargs="+"),
        _opt("labels", str, "", "infer.py: class names, one per line (default: annotation_path's labels, else "
             "Kinetics-400's for a 400-class network)"),
        _opt("flow_method", str, "tvl1", "infer.py: optical flow computed on the fly for the flow stream "
             "(tvl1: prepare_dataset's default; dis: about 100x faster, less accurate)",
             ("tvl1", "tvl1_fast", "dis", "farneback")),
        _opt("json_out", str, "", "infer.py: also write the predictions to this JSON file"),
    ],
    "device": [
        _opt("device_target", str, "CPU", "backend", ("CPU", "GPU", "Ascend")),
        _opt("device_id", int, 0, "device index (RANK_TABLE launches: from DEVICE_ID)"),
        _opt("context", _context_mode, "graph", "MindSpore execution mode (upstream: gr, py)", ("graph", "pynative")),
    ],
    "export": [
        _opt("file_name", str, "i3d", "exported file name; the format's extension is added"),
        _opt("file_format", str, "MINDIR", "export format (AIR needs an Ascend device)", ("MINDIR", "AIR", "ONNX")),
        _opt("dynamic_batch", str2bool, False, "MINDIR only: leave the batch dimension dynamic"),
        _opt("verify_export", str2bool, True, "run the exported file and compare with the network (relL2 <= 1e-4)"),
    ],
    "cloud": [
        _opt("openI", str2bool, False, "OpenI / ModelArts job: copy data_url in and results out to train_url "
             "with moxing"),
        _opt("data_url", str, "", "OpenI: dataset folder in object storage"),
        _opt("train_url", str, "", "OpenI: output folder in object storage"),
        _opt("ckpt_url", str, "", "OpenI: checkpoint to copy in (checkpoint_path then names it)"),
    ],
}
OPTIONS = {o.name: o for group in OPTION_GROUPS.values() for o in group}


def _check_value(option, value, source):
    if option.nargs:
        return [_check_one(option, v, source) for v in (value if isinstance(value, (list, tuple)) else [value])]
    return _check_one(option, value, source)


def _check_one(option, value, source):
    try:
        value = option.type(value)
    except (TypeError, ValueError, argparse.ArgumentTypeError) as error:
        raise ValueError(f"{source}: option '{option.name}': {error}") from None
    if option.choices and value not in option.choices:
        raise ValueError(f"{source}: option '{option.name}' must be one of {list(option.choices)}, got '{value}'")
    return value


def load_yaml(path):
    """{option: value} from a YAML file, every key known and every value checked."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: config file not found")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must be a mapping of option: value")
    unknown = sorted(set(data) - set(OPTIONS))
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}; known options: {sorted(OPTIONS)}")
    return {k: _check_value(OPTIONS[k], v, path) for k, v in data.items()}


def build_parser(description=None):
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", default=None, help="YAML file of option: value (the command line overrides)")
    for title, options in OPTION_GROUPS.items():
        group = parser.add_argument_group(title)
        for o in options:
            extra = {"nargs": "?", "const": True} if o.type is str2bool else {"nargs": o.nargs} if o.nargs else {}
            group.add_argument(f"--{o.name}", type=o.type, default=o.default, choices=o.choices, help=o.help,
                               **extra)
    return parser


def parse_config(argv=None, description=None):
    """The resolved configuration (an argparse.Namespace) for `argv` (default: sys.argv[1:])."""
    parser = build_parser(description)
    pre, _ = parser.parse_known_args(argv)
    if pre.config:
        try:
            parser.set_defaults(**load_yaml(pre.config))
        except (OSError, ValueError) as error:
            parser.error(str(error))
    return parser.parse_args(argv)


def save_config(cfg, path):
    """Write the resolved configuration as YAML (atomically), so a run can be repeated with --config."""
    from src.fileio import write_text
    values = {k: v for k, v in vars(cfg).items() if k in OPTIONS}
    return write_text(path, yaml.safe_dump(values, sort_keys=False))
