"""BatchNorm over N, C, T, H, W with flat parameter names, for the 3-D backbones."""
from mindspore import nn


class FlatBatchNorm3d(nn.BatchNorm2d):
    """3-D BatchNorm computed as BatchNorm2d over (N, C, T*H, W), which is what nn.BatchNorm3d does inside.

    nn.BatchNorm3d wraps a BatchNorm2d cell and so names its tensors `bn1.bn2d.gamma`; this one keeps them
    flat (`bn1.gamma`, `bn1.beta`, `bn1.moving_mean`, `bn1.moving_variance`), one name per PyTorch
    `bn1.weight`, `bn1.bias`, `bn1.running_mean`, `bn1.running_var`.

    `momentum` is MindSpore's: the weight KEPT from the old moving statistic,
    moving = momentum * moving + (1 - momentum) * batch. PyTorch's momentum is the weight of the NEW batch:
    PyTorch 0.1 (its default) is MindSpore 0.9.
    """

    def construct(self, x):
        _, c, t, h, w = x.shape
        return super().construct(x.reshape(-1, c, t * h, w)).reshape(-1, c, t, h, w)
