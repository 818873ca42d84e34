"""The one definition of every option, shared by train.py, eval.py, export.py, preprocess.py, postprocess.py.

Resolution order: an option's default < the YAML file given by --config < the command line. Unknown keys
(in the YAML or on the command line) are errors; booleans parse as booleans (`--flag`, `--flag=False`,
`flag: false`); values are checked against their type and choices wherever they come from.
"""
import argparse
import os
import tempfile
from collections import namedtuple

import yaml

Option = namedtuple("Option", "name type default help choices")


def str2bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got '{value}'")


def _opt(name, type_, default, help_, choices=None):
    return Option(name, type_, default, help_, choices)


# Grouped for --help; every entry script accepts every option, so one YAML file serves them all.
OPTION_GROUPS = {
    "model": [
        _opt("model", str, "i3d", "registered backbone (src/models)"),
        _opt("mode", str, "rgb", "stream: rgb (3 channels) or flow (x, y: 2 channels)", ("rgb", "flow")),
        _opt("num_classes", int, 400, "classes of the network (400: Kinetics)"),
        _opt("dropout_keep_prob", float, 0.5, "keep probability of the dropout before the classifier"),
        _opt("checkpoint_path", str, "", "MindSpore checkpoint to load (a classifier of another size is replaced)"),
        _opt("cross_modality", str2bool, False, "flow net from an RGB checkpoint: first conv averaged over RGB"),
    ],
    "clip": [
        _opt("batch_size", int, 1, "clips per batch"),
        _opt("sample_duration", int, 64, "frames per clip"),
        _opt("spatial_size", int, 224, "crop height and width"),
    ],
    "device": [
        _opt("device_target", str, "CPU", "backend", ("CPU", "GPU", "Ascend")),
        _opt("device_id", int, 0, "device index"),
        _opt("context", str, "graph", "MindSpore execution mode", ("graph", "pynative")),
    ],
    "export": [
        _opt("file_name", str, "i3d", "exported file name; the format's extension is added"),
        _opt("file_format", str, "MINDIR", "export format (AIR needs an Ascend device)", ("MINDIR", "AIR", "ONNX")),
        _opt("dynamic_batch", str2bool, False, "MINDIR only: leave the batch dimension dynamic"),
        _opt("verify_export", str2bool, True, "run the exported file and compare with the network (relL2 <= 1e-4)"),
    ],
}
OPTIONS = {o.name: o for group in OPTION_GROUPS.values() for o in group}


def _check_value(option, value, source):
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
            extra = {"nargs": "?", "const": True} if o.type is str2bool else {}
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
    values = {k: v for k, v in vars(cfg).items() if k in OPTIONS}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=".yaml", dir=directory)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(values, f, sort_keys=False)
    os.replace(tmp, path)
    return path
