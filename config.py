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


PARTIAL_BN_MODES = ("off", "frozen", "affine")


def partial_bn_mode(value):
    """A partial_bn mode; the booleans it was before it had modes still work: true = frozen, false = off."""
    text = str(value).strip().lower()
    if text in PARTIAL_BN_MODES:
        return text
    try:
        return "frozen" if str2bool(value) else "off"
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected one of {list(PARTIAL_BN_MODES)} (or true = frozen, false = "
                                         f"off), got '{value}'") from None


# Option types that a bare `--flag` sets: to what the type makes of true.
_FLAG_TYPES = (str2bool, partial_bn_mode)


def _context_mode(value):
    """graph | pynative, also the upstream spellings gr | py."""
    return {"gr": "graph", "py": "pynative"}.get(str(value).lower(), str(value).lower())


def _opt(name, type_, default, help_, choices=None, nargs=None):
    return Option(name, type_, default, help_, choices, nargs)


def _lower(value):
    return str(value).lower()


def _bounded(kind, low=None, high=None, low_open=False):
    """A type function for numbers in a range: `--batch_size 0` is refused where it is read, not as a
    ZeroDivisionError or a "Framework Unexpected Exception" later."""
    def parse(value):
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                             f"got '{value}'") from None
        too_low = low is not None and (number <= low if low_open else number < low)
        if too_low or (high is not None and number > high):
            bounds = (f"> {low}" if low_open else f">= {low}") if high is None else \
                f"in {'(' if low_open else '['}{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return number
    parse.__name__ = kind.__name__
    return parse


POSITIVE_INT = _bounded(int, 1)
NONNEGATIVE_INT = _bounded(int, 0)
NONNEGATIVE_FLOAT = _bounded(float, 0.0)
POSITIVE_FLOAT = _bounded(float, 0.0, low_open=True)
FRACTION = _bounded(float, 0.0, 1.0)


def model_arguments(value):
    """{name: value} from a YAML mapping or from 'key=value,key=value' (each value read as YAML: 3, 1.5, true, A)."""
    if isinstance(value, dict):
        pairs = value
    else:
        pairs = {}
        for item in filter(None, (part.strip() for part in str(value).split(","))):
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise argparse.ArgumentTypeError(f"expected key=value[,key=value...], got '{item}'")
            pairs[key.strip()] = yaml.safe_load(text) if text.strip() else ""
    if not all(isinstance(key, str) and key.isidentifier() for key in pairs):
        raise argparse.ArgumentTypeError(f"argument names must be identifiers, got {sorted(map(str, pairs))}")
    return {key: _number_if_numeric(value) for key, value in pairs.items()}


def _number_if_numeric(value):
    # YAML 1.1 reads 1e-5 (no dot) as a string; a backbone option is never a numeric-looking string.
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


# Grouped for --help; every entry script accepts every option, so one YAML file serves them all. The names
# are the upstream ModelZoo I3D's (config.py, eval.py, export.py), so its commands keep working.
OPTION_GROUPS = {
    "network": [
        _opt("model", str, "i3d", "registered backbone (src/models)"),
        _opt("mode", str, "rgb", "stream: rgb (3 channels) or flow (x, y: 2 channels)", ("rgb", "flow")),
        _opt("model_args", model_arguments, {}, "backbone options the model's constructor declares, e.g. "
             "'shortcut_type=A,conv1_t_size=3' (YAML: a mapping)"),
        _opt("num_classes", NONNEGATIVE_INT, 0, "classes of the network; 0: the dataset's (training, evaluation) or "
             "400 (Kinetics: export)"),
        _opt("finetune_num_classes", NONNEGATIVE_INT, 0, "upstream name: classes of the fine-tuned head; "
             "overrides num_classes (the checkpoint's own head size is read from the checkpoint)"),
        _opt("finetune_prefixes", str, "", "comma-separated parameter-name prefixes to train (upstream: "
             "'logits,Mixed_5'); empty: train every layer"),
        _opt("dropout_keep_prob", _bounded(float, 0.0, 1.0, low_open=True), 0.5, "keep probability of the dropout "
             "before the classifier"),
        _opt("bn_momentum", FRACTION, 0.99, "BatchNorm momentum, MindSpore convention (weight KEPT from the old "
             "statistic; PyTorch 0.01 = 0.99 here)"),
        _opt("checkpoint_path", str, "", "checkpoint to start from (a classifier of another size is replaced)"),
        _opt("cross_modality", str2bool, False, "flow net from an RGB checkpoint: first conv averaged over RGB"),
    ],
    "data": [
        _opt("dataset", str, "hmdb51", "dataset (src/factory/data_factory.py DATASETS)",
             ("hmdb51", "ucf101", "sthv2", "sample", "video_json")),
        _opt("video_path", str, "", "frame tree of the stream (joint evaluation: the rgb tree)"),
        _opt("annotation_path", str, "", "annotation JSON (hmdb51_json.py / ucf101_json.py output)"),
        _opt("video_path_joint_flow", str, "", "joint evaluation: the flow frame tree"),
        _opt("annotation_path_joint_flow", str, "", "joint evaluation: the flow annotation; empty: "
             "annotation_path"),
        _opt("batch_size", POSITIVE_INT, 8, "clips per batch (per device when distributed)"),
        _opt("num_workers", POSITIVE_INT, 2, "data worker processes"),
        _opt("seed", int, 1, "seed of Python, numpy, MindSpore, data order and augmentation"),
    ],
    "clip": [
        _opt("train_sample_duration", POSITIVE_INT, 64, "frames per training clip"),
        _opt("test_sample_duration", POSITIVE_INT, 64, "frames per evaluation clip"),
        _opt("clip_fusion", str, "logits", "a video's score from its clips: the mean of logits (DeepMind) or of "
             "softmax probabilities (kenshohara)", ("logits", "softmax")),
        _opt("num_val_samples", POSITIVE_INT, 1, "evaluation clips per video, evenly spaced, scores averaged per "
             "video"),
        _opt("twice_sample", str2bool, False, "TSN segment models (TSM), evaluation: mit-han-lab's --twice_sample, "
             "2 clips per video, every segment's centre, then its start (with num_val_samples 2)"),
        _opt("num_val_crops", POSITIVE_INT, 1, "evaluation views of every clip (mit-han-lab's --test_crops), scores "
             "averaged per video: 1 the centre; 3 along the longer side (with spatial_size = short_side, e.g. "
             "256/256: the references' full-resolution test); 10 the corners and centre, each also mirrored",
             (1, 3, 10)),
        _opt("spatial_size", POSITIVE_INT, 224, "crop height and width"),
        _opt("short_side", NONNEGATIVE_INT, 0, "resize frames to this shorter side before cropping; 0: as "
             "stored (infer.py: 256, the size prepare_dataset stores)"),
        _opt("train_crop", str, "random", "training crop: random (a window), multiscale (TSN multi-scale crop at "
             "the corners and centre), multiscale_13 (at 13 positions: TSM), random_resized (RandomResizedCrop, "
             "area min_crop_area-1, ratio 3/4-4/3: kenshohara, naviocean)",
             ("random", "multiscale", "multiscale_13", "random_resized")),
        _opt("min_crop_area", _bounded(float, 0.0, 1.0, low_open=True), 0.25, "random_resized: the smallest crop, "
             "a fraction of the frame's area (kenshohara 0.25; naviocean's P3D and torchvision 0.08)"),
        _opt("multiscale_crop", str2bool, False, "upstream name of --train_crop multiscale"),
        _opt("sample_duration", POSITIVE_INT, 64, "export and inference: frames per clip"),
    ],
    "training": [
        _opt("optimizer", _lower, "adam", "optimizer", ("adam", "sgd", "rmsprop")),
        _opt("lr", NONNEGATIVE_FLOAT, 0.001, "base learning rate (per step schedule)"),
        _opt("lr_schedule", str, "step", "step: lr x lr_de_rate every lr_de_epochs (upstream); multistep: lr x "
             "lr_de_rate at each of lr_milestones (kenshohara); cosine: to min_lr; cyclic: triangular, from lr up "
             "to max_lr and back every 2 x lr_half_cycle_epochs, changing every step (P3D: naviocean's recipe)",
             ("step", "multistep", "cosine", "cyclic")),
        _opt("lr_milestones", POSITIVE_INT, [50, 100, 150], "multistep schedule: epochs at which the lr decays",
             nargs="+"),
        _opt("lr_de_rate", NONNEGATIVE_FLOAT, 0.5, "step schedule: decay factor"),
        _opt("lr_de_epochs", POSITIVE_INT, 5, "step schedule: epochs between decays"),
        _opt("warmup_epochs", NONNEGATIVE_INT, 0, "cosine schedule: linear warm-up epochs"),
        _opt("min_lr", NONNEGATIVE_FLOAT, 0.0, "cosine schedule: final learning rate"),
        _opt("max_lr", NONNEGATIVE_FLOAT, 6e-3, "cyclic schedule: the top of the cycle, lr its bottom (P3D: "
             "naviocean's recipe, 6e-3 over lr 1e-3)"),
        _opt("lr_half_cycle_epochs", POSITIVE_FLOAT, 2.0, "cyclic schedule: epochs from lr up to max_lr, and as many "
             "back down (P3D: naviocean's recipe, 2; its step_size of 2 x the iterations per epoch)"),
        _opt("momentum", FRACTION, 0.9, "sgd and rmsprop momentum"),
        _opt("clip_grad_norm", NONNEGATIVE_FLOAT, 0.0, "clip the gradients to this global L2 norm before each update "
             "(mit-han-lab's and mmaction2's TSM recipes: 20); 0: no clipping"),
        _opt("weight_decay", NONNEGATIVE_FLOAT, 1e-8, "L2 weight decay of convolution and classifier weights (not "
             "BN, bias)"),
        _opt("fc_lr5", str2bool, False, "the classifier (the model's default_cfg classifier) learns at 5x the lr and "
             "its bias at 10x, at every step of the lr schedule (TSM: mit-han-lab's and mmaction2's recipes)"),
        _opt("partial_bn", partial_bn_mode, "off", "freeze BatchNorms while fine-tuning. frozen (also true, or a "
             "bare --partial_bn): every BatchNorm but the first (the stem's) normalises with its moving statistics in "
             "training too, never updates them, and its gamma and beta do not train (TSM: mit-han-lab's UCF101 "
             "fine-tune from Kinetics; its --npb turns it off). affine: the gamma and beta of every 3-D BatchNorm but "
             "the first do not train, but all statistics still follow the batches; the model's 2-D part (its "
             "default_cfg frame_wise, P3D's layer4) trains fully (P3D: naviocean's recipe). off (also false): every "
             "BatchNorm trains",
             PARTIAL_BN_MODES),
        _opt("start_epoch", NONNEGATIVE_INT, 0, "epoch to start at: the lr schedule and data order continue from "
             "there"),
        _opt("num_epochs", POSITIVE_INT, 32, "epochs in the whole run"),
        _opt("resume", str2bool, False, "continue from the last complete checkpoint in save_dir (weights, "
             "optimizer state, lr position, history)"),
        _opt("save_dir", str, "./output_standalone", "checkpoints, resolved config, history and plots; run.json "
             "lists the files of the run there (only those are pruned or resumed from)"),
        _opt("overwrite_run", str2bool, False, "start a new run in a save_dir that holds another run: its config, "
             "history and same-named checkpoints are replaced, its other files kept (never pruned)"),
        _opt("checkpoint_frequency", POSITIVE_INT, 1, "save a checkpoint every this many epochs (and after the last)"),
        _opt("checkpoints_num_keep", POSITIVE_INT, 16, "epoch checkpoints kept (the best one is kept besides)"),
        _opt("no_eval", str2bool, False, "skip validation after each epoch"),
        _opt("progress_every", NONNEGATIVE_INT, 0, "training steps between progress lines when the output is not a terminal "
             "(0: about ten per epoch; a terminal shows a progress bar)"),
        _opt("amp_level", str, "O0", "mixed precision level (O0: float32)", ("O0", "O1", "O2", "O3")),
        _opt("loss_scale", POSITIVE_FLOAT, 1024.0, "fixed loss scale used with amp_level O2/O3"),
        _opt("sink_mode", str2bool, False, "dataset sink mode (Ascend/GPU; CPU runs un-sunk)"),
        _opt("distributed", str2bool, False, "data-parallel training over the devices of the launcher (msrun or "
             "an HCCL rank table)"),
        _opt("device_num", NONNEGATIVE_INT, 0, "devices in the job; 0: from the launcher (checked against it when "
             "given)"),
    ],
    "evaluation": [
        _opt("test_mode", str, "", "rgb, flow or joint; empty: the --mode stream", ("", "rgb", "flow", "joint")),
        _opt("rgb_path", str, "", "rgb checkpoint (upstream name); empty: checkpoint_path in rgb mode"),
        _opt("flow_path", str, "", "flow checkpoint (upstream name); empty: checkpoint_path in flow mode"),
        _opt("fusion", str, "logits", "joint: sum of logits (DeepMind, upstream) or mean of softmax",
             ("logits", "softmax")),
        _opt("rgb_weight", NONNEGATIVE_FLOAT, 1.0, "joint: weight of the rgb scores"),
        _opt("flow_weight", NONNEGATIVE_FLOAT, 1.0, "joint: weight of the flow scores"),
        _opt("checkpoint_dir", str, "", "multi-checkpoint evaluation: folder of <model>-<epoch>_<step>.ckpt files"),
        _opt("checkpoint_epochs", str, "", "multi-checkpoint evaluation: epochs, e.g. '3-10' or '4,8,12'"),
        _opt("result_dir", str, "./eval_result", "metrics JSON, predictions, confusion matrix, summary.txt"),
    ],
    "inference": [
        _opt("preprocess_result", str, "./preprocess_Result", "preprocess.py output: data/ and label/ per "
             "dataset and stream"),
        _opt("infer_output_path", str, "./infer_310_Result", "the inference program's output: "
             "<dataset>/<mode>/result_Files/ and time_Result/"),
    ],
    "demo": [  # infer.py: video files -> top-5 classes
        _opt("video", str, [], "infer.py: video file(s) to classify (anything OpenCV decodes)", nargs="+"),
        _opt("labels", str, "", "infer.py: class names, one per line; empty: annotation_path's labels, else "
             "Kinetics-400's for a 400-class network"),
        _opt("flow_method", str, "tvl1", "infer.py: optical flow computed on the fly for the flow stream "
             "(tvl1: prepare_dataset's default; dis: about 100x faster, less accurate)",
             ("tvl1", "tvl1_fast", "dis", "farneback")),
        _opt("json_out", str, "", "infer.py: also write the predictions to this JSON file"),
    ],
    "device": [
        _opt("device_target", str, "CPU", "backend", ("CPU", "GPU", "Ascend")),
        _opt("device_id", NONNEGATIVE_INT, 0, "device index (RANK_TABLE launches: from DEVICE_ID)"),
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


# What each entry script's --help shows: option groups, or single options of another group. Every script still
# ACCEPTS every option, so one YAML file serves a whole workflow; --help lists only what the script reads.
_NETWORK = ("model", "mode", "num_classes", "checkpoint_path")  # what a script that only runs a network reads
SCRIPT_OPTIONS = {
    "train": ("network", "data", "clip", "training", "device", "cloud"),
    "eval": (*_NETWORK, "data", "clip", "evaluation", "device", "cloud"),
    "eval_onnx": ("mode", "data", "clip", "evaluation", "device"),
    "export": (*_NETWORK, "sample_duration", "spatial_size", "batch_size", "export", "device"),
    "infer": (*_NETWORK, "sample_duration", "spatial_size", "short_side", "num_val_samples", "twice_sample",
              "num_val_crops",
              "clip_fusion", "annotation_path", "rgb_path", "flow_path", "fusion", "rgb_weight", "flow_weight", "demo",
              "device"),
    "preprocess": ("mode", "data", "clip", "preprocess_result"),
    "postprocess": ("mode", "dataset", "test_mode", "clip_fusion", "fusion", "rgb_weight", "flow_weight", "result_dir", "inference"),
}


def _shown_options(script):
    if script is None:
        return set(OPTIONS)
    if script not in SCRIPT_OPTIONS:
        raise KeyError(f"config.py: no SCRIPT_OPTIONS entry for '{script}'")
    shown = set()
    for item in SCRIPT_OPTIONS[script]:
        shown |= {o.name for o in OPTION_GROUPS[item]} if item in OPTION_GROUPS else {OPTIONS[item].name}
    return shown


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's example lines as written, and appends '(default: X)' only where there is a
    default worth saying (not an empty string or list, and not where the help already says what empty means)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, "", [], argparse.SUPPRESS) or "%(default)" in text or "empty:" in text:
            return text
        return f"{text} (default: %(default)s)"


def load_yaml(path):
    """{option: value} from a YAML file, every key known and every value checked."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: config file not found")
    with open(path) as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ValueError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must be a mapping of option: value")
    unknown = sorted(set(data) - set(OPTIONS))
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}; known options: {sorted(OPTIONS)}")
    return {k: _check_value(OPTIONS[k], v, path) for k, v in data.items()}


def build_parser(description=None, script=None):
    """The parser of every option; `script` (a SCRIPT_OPTIONS key) limits what --help lists."""
    parser = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
    parser.add_argument("--config", default=None, help="YAML file of option: value (the command line overrides)")
    shown = _shown_options(script)
    for title, options in OPTION_GROUPS.items():
        group = parser.add_argument_group(title) if shown & {o.name for o in options} else parser
        for o in options:
            extra = {"nargs": "?", "const": o.type(True)} if o.type in _FLAG_TYPES else \
                {"nargs": o.nargs} if o.nargs else {}
            group.add_argument(f"--{o.name}", type=o.type, default=o.default, choices=o.choices,
                               help=o.help if o.name in shown else argparse.SUPPRESS, **extra)
    return parser


def parse_config(argv=None, description=None, script=None):
    """The resolved configuration (an argparse.Namespace) for `argv` (default: sys.argv[1:]).

    script: the entry script's SCRIPT_OPTIONS key; its --help then lists only the options it reads."""
    parser = build_parser(description, script)
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


_NOT_GIVEN = object()  # a default no command line can produce: what parse_known_args leaves untouched


def explicit_options(argv=None):
    """The option names `argv` (default: sys.argv[1:]) sets, on the command line or in its --config file.

    These override what a training run recorded (src/factory/from_config.py). The command line is read by the
    same parser as parse_config, so abbreviations (`--sample_dur 16`) and `--flag=value` count as given.
    """
    parser = build_parser()
    parser.set_defaults(**{name: _NOT_GIVEN for name in OPTIONS})
    given, _ = parser.parse_known_args(argv)
    names = {name for name in OPTIONS if getattr(given, name) is not _NOT_GIVEN}
    if given.config:
        names |= set(load_yaml(given.config))
    return names


RUN_CONFIG_NAME = "config.yaml"  # written by train.py into save_dir, beside the run's checkpoints


def read_run_config(checkpoint_path):
    """(path, {option: value}) of the training run that wrote `checkpoint_path`, from the config.yaml beside
    it, or None when there is none (converted weights, a checkpoint copied elsewhere).

    Only known options are read and checked: a run recorded by an older version may hold options since
    renamed, and those do not describe the clips it was trained on.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(checkpoint_path)), RUN_CONFIG_NAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not readable YAML ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a training run's config must be a mapping of option: value")
    return path, {k: _check_value(OPTIONS[k], v, path) for k, v in data.items() if k in OPTIONS}


def training_runs(checkpoint_paths):
    """read_run_config of every checkpoint (.ckpt) among `checkpoint_paths` that has one; exported files and
    checkpoints without a run config beside them (converted weights) have none."""
    runs = {}
    for path in checkpoint_paths:
        run = read_run_config(path) if path.endswith(".ckpt") else None
        if run:
            runs.setdefault(run[0], run)  # checkpoints of one run share its config
    return list(runs.values())
