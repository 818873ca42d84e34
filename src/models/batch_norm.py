"""BatchNorm over N, C, T, H, W with flat parameter names, for the 3-D backbones, and its training form fused with
the residual add and ReLU that follow it in a ResNet block."""
import mindspore as ms
import numpy as np
from mindspore import nn, ops

from .cpu_kernels import batch_norm_train_ops


class FlatBatchNorm3d(nn.BatchNorm2d):
    """3-D BatchNorm computed as BatchNorm2d over (N, C, T*H, W), which is what nn.BatchNorm3d does inside.

    nn.BatchNorm3d wraps a BatchNorm2d cell and so names its tensors `bn1.bn2d.gamma`; this one keeps them
    flat (`bn1.gamma`, `bn1.beta`, `bn1.moving_mean`, `bn1.moving_variance`), one name per PyTorch
    `bn1.weight`, `bn1.bias`, `bn1.running_mean`, `bn1.running_var`.

    `momentum` is MindSpore's: the weight KEPT from the old moving statistic,
    moving = momentum * moving + (1 - momentum) * batch. PyTorch's momentum is the weight of the NEW batch:
    PyTorch 0.1 (its default) is MindSpore 0.9.

    On CPU with the C++ kernels, `batch_norm_train` (through layers.conv_bn) computes the training form.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.9, **kwargs):
        super().__init__(num_features, eps=eps, momentum=momentum, **kwargs)
        self.train_ops = batch_norm_train_ops()
        # the kernels' settings (eps, relu) for a BatchNorm without and with the ReLU after it
        self.settings_linear = ms.Tensor(np.array([eps, 0.0], np.float32))
        self.settings_relu = ms.Tensor(np.array([eps, 1.0], np.float32))

    def construct(self, x):
        _, c, t, h, w = x.shape
        return super().construct(x.reshape(-1, c, t * h, w)).reshape(-1, c, t, h, w)


def batch_norm_train(bn, x, relu, residual):
    """relu?(bn(x) [+ residual]) for a FlatBatchNorm3d `bn` on batch statistics, with the C++ kernels (bn.train_ops):
    one op forward (statistics, then normalise, add and ReLU in one pass) and one backward, instead of MindSpore's
    BatchNorm, Add and ReLU and their gradients. The moving statistics are updated as nn.BatchNorm2d does on CPU:
    moving = momentum * moving + (1 - momentum) * batch, the batch variance unbiased (M / (M - 1), M values per
    channel)."""
    settings = bn.settings_relu if relu else bn.settings_linear
    if residual is None:
        y, mean, variance, _ = bn.train_ops[0](x, bn.gamma, bn.beta, settings)
    else:
        y, mean, variance, _ = bn.train_ops[1](x, bn.gamma, bn.beta, residual, settings)
    count = x.size // x.shape[1]
    keep = 1.0 - bn.momentum  # nn's `momentum` attribute is the weight of the new batch
    mean, variance = ops.stop_gradient(mean), ops.stop_gradient(variance)
    # One in-place op (batch_norm_train.cc MovingStatisticsUpdate): as MindSpore ops, with their Loads, Assigns and
    # UpdateStates, the update was ~a dozen graph nodes per BatchNorm, which graph mode holds memory for.
    settings = ms.Tensor((keep, bn.momentum, count / max(count - 1, 1)), ms.float32)
    return ops.depend(y, bn.train_ops[2](bn.moving_mean, bn.moving_variance, mean, variance, settings))
