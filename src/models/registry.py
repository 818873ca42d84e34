"""Model registry: each model file registers small named constructors with `@register_model`.

A constructor takes keyword arguments only (num_classes, in_channels, and the options it declares) and returns
an `nn.Cell`. Its default configuration (`default_cfg`) says what the rest of the pipeline needs to know:
- `first_conv`, `classifier`: CELL paths (`Conv3d_1a_7x7.conv`, `logits.conv`, `conv1`, `fc`); the code appends
  `.weight` / `.bias`, so head replacement, freezing, cross-modality initialisation and reading a checkpoint's
  class count work the same for a convolution head and a Dense one (create_model checks both name parameters);
- `weight_format`: the family of foreign checkpoint formats it converts from (src/weights/formats.py);
- `num_classes`: the class count of its reference weights;
- `input`: the input contract of its reference implementation: `mean`, `std` (on values in [0, 1]; see
  src/data/normalization.py), `clip_len` (frames), `crop_size`, `short_side` (frames resized to it before
  cropping, 0: as stored), optionally `flow_mean` / `flow_std` (a flow input's own (x, y) values) and
  `min_clip_len` (the fewest frames the network takes), and `sampler`
  (which frames: "dense", a window of consecutive frames, or "segments", one frame from each of clip_len equal
  TSN segments: src/data/temporal.py). clip_len, crop_size and short_side
  are the defaults of the clip options for this model (src/factory/from_config.py apply_model_input); mean, std
  and sampler are what every dataset and inference clip of it uses (dataset_from_config, infer.py);
- `frame_wise` (optional): cell paths of the part of a 3-D network that runs frame by frame, 2-D on the folded time
  axis (P3D: ("layer4",)); partial_bn affine trains its BatchNorms fully (src/training/partial_bn.py).
"""
import inspect

REQUIRED_CFG_KEYS = ("num_classes", "first_conv", "classifier", "weight_format", "input")
INPUT_KEYS = ("mean", "std", "clip_len", "crop_size", "short_side", "sampler")
SAMPLERS = ("dense", "segments")

_model_entrypoints = {}
_default_cfgs = {}


def register_model(fn=None, *, default_cfg=None):
    """Register `fn` under its function name, with its default configuration."""
    def decorator(constructor):
        name = constructor.__name__
        if name in _model_entrypoints:
            raise ValueError(f"model '{name}' is registered twice")
        missing = [key for key in REQUIRED_CFG_KEYS if key not in (default_cfg or {})]
        if missing:
            raise ValueError(f"model '{name}': default_cfg lacks {missing} (needed: {list(REQUIRED_CFG_KEYS)})")
        contract = default_cfg["input"]
        missing = [key for key in INPUT_KEYS if key not in contract]
        if missing or contract["sampler"] not in SAMPLERS:
            raise ValueError(f"model '{name}': default_cfg input needs {list(INPUT_KEYS)} (lacks {missing}), "
                             f"sampler one of {SAMPLERS}")
        _model_entrypoints[name] = constructor
        _default_cfgs[name] = dict(default_cfg or {})
        return constructor
    return decorator(fn) if fn is not None else decorator


def register_variant(network, name, default_cfg, doc, **fixed):
    """Register `name` as `network(**fixed, **options)` (a depth of a family: `resnet3d_18`, `tsm_resnet50`). Its
    signature is the network's without `fixed`, so create_model passes exactly the options the network declares."""
    def constructor(**kwargs):
        return network(**fixed, **kwargs)

    signature = inspect.signature(network.__init__)
    constructor.__signature__ = signature.replace(
        parameters=[p for key, p in signature.parameters.items() if key not in ("self", *fixed)])
    constructor.__name__ = constructor.__qualname__ = name
    constructor.__doc__ = doc
    return register_model(constructor, default_cfg=default_cfg)


def list_models():
    return sorted(_model_entrypoints)


def is_model(name):
    return name in _model_entrypoints


def model_entrypoint(name):
    if name not in _model_entrypoints:
        raise ValueError(f"unknown model '{name}'; registered models: {', '.join(list_models())}")
    return _model_entrypoints[name]


def default_cfg(name):
    model_entrypoint(name)
    return dict(_default_cfgs[name])


def check_cfg_names(name, net):
    """The cell paths of `name`'s default_cfg name parameters of `net` (a config typo fails at the first build,
    not as a head that is never replaced)."""
    cfg, params = _default_cfgs[name], {p.name for p in net.get_parameters()}
    for key in ("first_conv", "classifier"):
        if f"{cfg[key]}.weight" not in params:
            raise ValueError(f"model '{name}': default_cfg {key} '{cfg[key]}' names no cell with a weight "
                             f"(parameters start with {sorted({n.split('.')[0] for n in params})[:8]})")
    for prefix in cfg.get("frame_wise", ()):
        if not any(param.startswith(f"{prefix}.") for param in params):
            raise ValueError(f"model '{name}': default_cfg frame_wise '{prefix}' names no cell with parameters")
