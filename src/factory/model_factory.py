"""create_model: a registered backbone, optionally loaded from a checkpoint and partly frozen."""
from ..models import default_cfg, model_entrypoint
from ..weights import freeze_except, load_pretrained

MODE_CHANNELS = {"rgb": 3, "flow": 2}


def in_channels_for(mode=None, in_channels=None):
    """Input channels from a stream `mode` (rgb: 3, flow: x and y, 2) or given directly."""
    if mode is None:
        return 3 if in_channels is None else int(in_channels)
    if mode not in MODE_CHANNELS:
        raise ValueError(f"mode must be one of {sorted(MODE_CHANNELS)}, got '{mode}'")
    if in_channels is not None and int(in_channels) != MODE_CHANNELS[mode]:
        raise ValueError(f"mode '{mode}' has {MODE_CHANNELS[mode]} input channels, not {in_channels}")
    return MODE_CHANNELS[mode]


def create_model(name="i3d", num_classes=400, mode=None, in_channels=None, dropout_keep_prob=0.5,
                 checkpoint_path=None, cross_modality=False, trainable_prefixes=None, require_classifier=False,
                 **kwargs):
    """Build model `name`; load `checkpoint_path` (replacing a classifier of another size); freeze.

    trainable_prefixes: parameter-name prefixes that stay trainable (e.g. ("logits", "Mixed_5")); the
    rest is frozen. None or empty trains everything. require_classifier: the checkpoint must hold a classifier
    of this size (evaluation, export), instead of a new head being started.
    """
    cfg = default_cfg(name)
    net = model_entrypoint(name)(num_classes=num_classes, in_channels=in_channels_for(mode, in_channels),
                                 dropout_keep_prob=dropout_keep_prob, **kwargs)
    if checkpoint_path:
        load_pretrained(net, checkpoint_path, classifier=cfg["classifier"], first_conv=cfg["first_conv"],
                        cross_modality=cross_modality, require_classifier=require_classifier)
    if trainable_prefixes:
        freeze_except(net, trainable_prefixes)
    return net
