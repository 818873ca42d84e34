"""create_optimizer: Adam, SGD with momentum or RMSProp over the trainable parameters, per-step learning rate."""
import mindspore as ms
import numpy as np
from mindspore import nn, ops

from ..mindspore_log import without_mindspore_log
from ..models import default_cfg
from ..models.cpu_kernels import momentum_update_op

# BatchNorm scales/shifts and biases carry no weight decay (decaying them only shrinks activations), as in
# mindcv's and mmaction2's default parameter groups.
_NO_DECAY = (".gamma", ".beta", ".bias")

# fc_lr5 (mit-han-lab's TSN/TSM `lr5_weight` / `lr10_bias`, mmaction2's TSMOptimWrapperConstructor): a new
# classifier on a pretrained backbone learns at 5x the rate (its bias at 10x), the backbone at the base rate.
FC_LR5 = {"weight": 5.0, "bias": 10.0}


def classifier_lr_multipliers(model):
    """fc_lr5's {parameter name: learning-rate factor} for the classifier of registered `model` (the cell its
    default_cfg names "classifier": "fc", "logits.conv", ...)."""
    classifier = default_cfg(model)["classifier"]
    return {f"{classifier}.{kind}": factor for kind, factor in FC_LR5.items()}


def _parameter_groups(params, weight_decay, lr, lr_multipliers):
    """One group per (learning-rate factor, weight decay), in the order the parameters first need them."""
    groups = {}
    for param in params:
        decay = 0.0 if param.name.endswith(_NO_DECAY) else weight_decay
        groups.setdefault((lr_multipliers.get(param.name, 1.0), decay), []).append(param)
    # A group's rate is the schedule scaled, so it follows the same global_step in every group.
    # order_params: the optimizer updates the parameters in the network's order, not group by group. The updates
    # run one after another, last parameter first; grouped, the decayed weights' updates waited for every
    # BatchNorm's, i.e. for the end of the backward, and a step held all their gradients at once (P3D-199:
    # ~140 MB; benchmarks/NOTES.md attempt 20). In the network's order each update follows its gradient.
    return [{"params": members, "weight_decay": decay, "lr": _scaled(lr, factor)}
            for (factor, decay), members in groups.items()] + [{"order_params": list(params)}]


def _scaled(lr, factor):
    return lr * factor if isinstance(lr, float) else ms.Tensor(lr * np.float32(factor))


_decayed_momentum = ops.MultitypeFuncGraph("decayed_momentum")


@_decayed_momentum.register("Function", "Tensor", "Tensor", "Bool", "Tensor", "Tensor", "Tensor", "Tensor")
def _decayed_momentum_update(opt, momentum, decay, decayed, lr, gradient, weight, moment):
    """One parameter's update, its weight decay first: the weight is read for it once its gradient exists."""
    if decayed:
        read = ops.depend(weight, gradient)
        gradient = gradient + read * ops.cast(decay, read.dtype)
    return ops.depend(True, opt(weight, moment, lr, gradient, momentum))


_kernel_momentum = ops.MultitypeFuncGraph("kernel_momentum")


@_kernel_momentum.register("Function", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor")
def _kernel_momentum_update(update, momentum, decay, lr, gradient, weight, moment):
    """One parameter's update by the C++ kernel (decay 0: none)."""
    return ops.depend(True, update(weight, moment, gradient, lr, momentum, decay))


class Momentum(nn.Momentum):
    """nn.Momentum (SGD with momentum: v = momentum * v + g; p -= lr * v, PyTorch's SGD with dampening 0), with each
    parameter's L2 weight decay (g + weight_decay * p) made when its gradient is there, just before its update.

    On CPU with the C++ kernels, each parameter is updated in place by one kernel call (cpu_kernels.
    momentum_update_op: the decay's second read of the weight made MindSpore copy every decayed weight at each of
    its reads, ~280 MB and ~200 ms per P3D-199 step, benchmarks/NOTES.md attempt 20); elsewhere by MindSpore's ops.

    Why those make the decay late: nn.Momentum makes weight_decay * p for EVERY parameter before the update that
    uses it, and since that depends on the weights only, MindSpore's graph runs it at once, at the start of the
    step: a training step holds about one more copy of the weights than it needs. Measured (benchmarks/NOTES.md,
    attempt 11; `taskset -c 0,1 python benchmarks/memory_probe.py --model p3d199 --shape 1,3,16,160,160`, weight
    decay 1e-3): peak 3,135 MB with nn.Momentum, 2,826 MB with this one, 2,761 MB with the kernels' block pool
    since (with --weight_decay 0: 2,537 and 2,522). The arithmetic is nn.Momentum's in the same order (the updates
    agree bit for bit, on either path). Under a loss scale (mixed precision) nn.Momentum's own step runs.

    `params`: create_optimizer's parameter groups, each with its "lr" and "weight_decay".
    """

    def __init__(self, params, learning_rate, momentum, loss_scale=1.0):
        super().__init__(params, learning_rate=learning_rate, momentum=momentum, loss_scale=loss_scale)
        if not (self.is_group and self.is_group_lr) or any(self.grad_centralization_flags):
            raise ValueError("Momentum takes parameter groups that each set 'lr' (create_optimizer's), without "
                             "gradient centralization")
        self.decayed = tuple(bool(self.exec_weight_decay and flag) for flag in self.decay_flags)
        self.kernel_update = None
        if not self.need_scale and all(p.dtype == ms.float32 for p in self.params):
            self.kernel_update = momentum_update_op()
        if self.kernel_update is not None:
            zero = ms.Tensor(0.0, ms.float32)
            self.kernel_decays = tuple(ops.cast(decay, ms.float32) if decayed else zero
                                       for decay, decayed in zip(self.get_weight_decay(), self.decayed))

    def construct(self, gradients):
        if self.need_scale:
            return nn.Momentum.construct(self, gradients)  # named: graph mode resolves super() from the class
        rates = self.get_lr()
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        if self.kernel_update is not None:
            return self.hyper_map_reverse(ops.partial(_kernel_momentum, self.kernel_update, self.momentum),
                                          self.kernel_decays, rates, gradients, self.params, self.moments)
        return self.hyper_map_reverse(ops.partial(_decayed_momentum, self.opt, self.momentum),
                                      self.get_weight_decay(), self.decayed, rates, gradients, self.params,
                                      self.moments)


def create_optimizer(name, params, lr, momentum=0.9, weight_decay=0.0, loss_scale=1.0, lr_multipliers=None):
    """`lr`: a float or the per-step rates (create_lr_schedule), indexed by the optimizer's global_step.

    lr_multipliers: {parameter name: factor} of parameters that learn at factor x `lr` at every step
    (classifier_lr_multipliers: fc_lr5); each must be one of `params`.
    """
    params = list(params)
    if not params:
        raise ValueError("no trainable parameters: check finetune_prefixes")
    lr_multipliers = dict(lr_multipliers or {})
    untrained = sorted(set(lr_multipliers) - {p.name for p in params})
    if untrained:
        raise ValueError(f"learning-rate factors (fc_lr5) for parameters that are not trained: {untrained}; "
                         "check finetune_prefixes")
    lr = float(lr) if isinstance(lr, (int, float)) else np.asarray(lr, np.float32)
    groups = _parameter_groups(params, weight_decay, lr, lr_multipliers)
    lr = lr if isinstance(lr, float) else ms.Tensor(lr)
    name = name.lower()
    if name == "adam":
        # nn.Adam always builds a FusedSparseAdam for sparse gradients (none here), and MindSpore 2.8+ logs that
        # operator's deprecation on every run.
        with without_mindspore_log("'FusedSparseAdam' is deprecated"):
            return nn.Adam(groups, learning_rate=lr, loss_scale=loss_scale)
    if name == "sgd":
        return Momentum(groups, learning_rate=lr, momentum=momentum, loss_scale=loss_scale)
    if name == "rmsprop":
        return nn.RMSProp(groups, learning_rate=lr, momentum=momentum, loss_scale=loss_scale)
    raise ValueError(f"unknown optimizer '{name}'; known: adam, sgd, rmsprop")
