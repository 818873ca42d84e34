"""create_model: a registered backbone, optionally loaded from a checkpoint and partly frozen."""
import inspect

from ..models import check_cfg_names, default_cfg, model_entrypoint
from ..weights import freeze_except, load_pretrained

MODE_CHANNELS = {"rgb": 3, "flow": 2}
# Options of every entry script that only some backbones have (kenshohara's 3D-ResNet has no dropout): given to
# a constructor that declares them, and otherwise not used. Any other argument must be declared.
COMMON_OPTIONS = ("dropout_keep_prob", "bn_momentum")


def in_channels_for(mode=None, in_channels=None):
    """Input channels from a stream `mode` (rgb: 3, flow: x and y, 2) or given directly."""
    if mode is None:
        return 3 if in_channels is None else int(in_channels)
    if mode not in MODE_CHANNELS:
        raise ValueError(f"mode must be one of {sorted(MODE_CHANNELS)}, got '{mode}'")
    if in_channels is not None and int(in_channels) != MODE_CHANNELS[mode]:
        raise ValueError(f"mode '{mode}' has {MODE_CHANNELS[mode]} input channels, not {in_channels}")
    return MODE_CHANNELS[mode]


def declared_arguments(constructor):
    """The keyword arguments a model constructor declares (its **kwargs, if any, are not a declaration)."""
    return [name for name, p in inspect.signature(constructor).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def create_model(name="i3d", num_classes=400, mode=None, in_channels=None, checkpoint_path=None,
                 cross_modality=False, trainable_prefixes=None, require_classifier=False, model_args=None,
                 **common):
    """Build model `name`; load `checkpoint_path` (replacing a classifier of another size); freeze.

    model_args: backbone options (`shortcut_type`, ...): each must be one the constructor declares, else an
    error lists what it takes. common: options every entry script has (dropout_keep_prob, bn_momentum), passed
    only to a constructor that declares them: a network without dropout simply has none.
    trainable_prefixes: parameter-name prefixes that stay trainable (e.g. ("logits", "Mixed_5")); the
    rest is frozen. None or empty trains everything. require_classifier: the checkpoint must hold a classifier
    of this size (evaluation, export), instead of a new head being started.
    """
    cfg = default_cfg(name)
    constructor = model_entrypoint(name)
    declared = declared_arguments(constructor)
    model_args = dict(model_args or {})
    unknown = sorted(set(model_args) - set(declared)) + sorted(k for k in common if k not in COMMON_OPTIONS
                                                              and k not in declared)
    if unknown:
        raise ValueError(f"model '{name}' takes no argument(s) {unknown}; its arguments: {', '.join(declared)}")
    kwargs = {k: v for k, v in common.items() if k in declared}
    clash = sorted(set(kwargs) & set(model_args))
    if clash:
        raise ValueError(f"model '{name}': {clash} given both as an option and in model_args")
    net = constructor(num_classes=num_classes, in_channels=in_channels_for(mode, in_channels),
                      **kwargs, **model_args)
    check_cfg_names(name, net)
    if checkpoint_path:
        load_pretrained(net, checkpoint_path, classifier=cfg["classifier"], first_conv=cfg["first_conv"],
                        cross_modality=cross_modality, require_classifier=require_classifier)
    if trainable_prefixes:
        freeze_except(net, trainable_prefixes)
    return net
