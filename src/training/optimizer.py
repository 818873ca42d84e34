"""create_optimizer: Adam, SGD with momentum or RMSProp over the trainable parameters, per-step learning rate."""
import mindspore as ms
from mindspore import nn

from ..mindspore_log import without_mindspore_log

# BatchNorm scales/shifts and biases carry no weight decay (decaying them only shrinks activations), as in
# mindcv's and mmaction2's default parameter groups.
_NO_DECAY = (".gamma", ".beta", ".bias")


def _parameter_groups(params, weight_decay):
    decay = [p for p in params if not p.name.endswith(_NO_DECAY)]
    no_decay = [p for p in params if p.name.endswith(_NO_DECAY)]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def create_optimizer(name, params, lr, momentum=0.9, weight_decay=0.0, loss_scale=1.0):
    """`lr`: a float or the per-step rates (create_lr_schedule), indexed by the optimizer's global_step."""
    params = list(params)
    if not params:
        raise ValueError("no trainable parameters: check finetune_prefixes")
    lr = ms.Tensor(lr, ms.float32) if not isinstance(lr, float) else lr
    groups = _parameter_groups(params, weight_decay)
    name = name.lower()
    if name == "adam":
        # nn.Adam always builds a FusedSparseAdam for sparse gradients (none here), and MindSpore 2.8+ logs that
        # operator's deprecation on every run.
        with without_mindspore_log("'FusedSparseAdam' is deprecated"):
            return nn.Adam(groups, learning_rate=lr, loss_scale=loss_scale)
    if name == "sgd":
        return nn.Momentum(groups, learning_rate=lr, momentum=momentum, loss_scale=loss_scale)
    if name == "rmsprop":
        return nn.RMSProp(groups, learning_rate=lr, momentum=momentum, loss_scale=loss_scale)
    raise ValueError(f"unknown optimizer '{name}'; known: adam, sgd, rmsprop")
