"""naviocean's P3D (naviocean/pseudo-3d-pytorch, `models/p3d_model.py`) in PyTorch: the reference benchmarks/speed.py
--model p3d63|p3d199 times our src/models/p3d.py against.

Written again from naviocean's code, not from ours: stem Conv3d (1, 7, 7) stride (1, 2, 2) `conv1_custom`,
BatchNorm3d, ReLU, MaxPool3d((2, 3, 3), 2, (0, 1, 1)); layer1..layer3 of 3-D bottlenecks (conv1 1x1x1, then by the
block's global index i the structure "ABC"[i % 3] of conv2 (1, 3, 3) S and conv3 (3, 1, 1) T, conv4 1x1x1 x4), each
stage followed by MaxPool3d((2, 1, 1)); the spatial stride in conv1 and `downsample.0`, (1, 2, 2). Then naviocean's
`x.view(-1, C, H, W)` and layer4 of 2-D bottlenecks (Conv2d / BatchNorm2d: conv1 1x1 stride 2 in the first block,
`conv_normal` 3x3, conv4), average pool, dropout, `fc`. Module names are naviocean's, so this network's state dict is
a naviocean checkpoint.

One change: naviocean's head is AvgPool2d(5), which is the global mean at its 160 x 160 input only; here the pool
is adaptive (the global mean at any size, as our P3D's head), so 16 x 160 x 160 gives naviocean's function exactly
and smaller test clips agree with ours too. As in naviocean's code, the view before layer4 is right only when one
time step is left (16 frames): a longer clip is refused here rather than mixed up.

Like the other torch_*.py it does not import MindSpore (speed.py's PyTorch-only memory process);
`load_from_mindspore` reads the names through src/weights/p3d_naming.py, imported when it is called.
"""
import torch
from torch import nn

from benchmarks.torch_resnet3d import CONV, NORM
from benchmarks.torch_weights import copy_weights

DEPTHS = {63: (3, 4, 6, 3), 131: (3, 4, 23, 3), 199: (3, 8, 36, 3)}  # naviocean's P3D63 / P3D131 / P3D199
STRUCTURES = ("A", "B", "C")
EXPANSION = 4


class Bottleneck(nn.Module):
    """naviocean's Bottleneck: 3-D (S/T structure by `index`) when `index` < `depth_3d`, else 2-D (layer4)."""

    def __init__(self, in_planes, planes, stride, downsample, index, depth_3d):
        super().__init__()
        self.is_3d = index < depth_3d
        dims = 3 if self.is_3d else 2
        self.structure = STRUCTURES[index % len(STRUCTURES)]
        self.conv1 = CONV[dims](in_planes, planes, kernel_size=1, stride=stride, bias=False)
        self.bn1 = NORM[dims](planes)
        if self.is_3d:
            self.conv2 = nn.Conv3d(planes, planes, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)  # S
            self.bn2 = nn.BatchNorm3d(planes)
            self.conv3 = nn.Conv3d(planes, planes, kernel_size=(3, 1, 1), padding=(1, 0, 0), bias=False)  # T
            self.bn3 = nn.BatchNorm3d(planes)
        else:
            self.conv_normal = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
            self.bn_normal = nn.BatchNorm2d(planes)
        self.conv4 = CONV[dims](planes, planes * EXPANSION, kernel_size=1, bias=False)
        self.bn4 = NORM[dims](planes * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def spatial(self, x):
        return self.relu(self.bn2(self.conv2(x)))

    def temporal(self, x):
        return self.relu(self.bn3(self.conv3(x)))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        if not self.is_3d:
            out = self.relu(self.bn_normal(self.conv_normal(out)))
        elif self.structure == "A":
            out = self.temporal(self.spatial(out))
        elif self.structure == "B":
            out = self.spatial(out) + self.temporal(out)
        else:
            out = self.spatial(out)
            out = out + self.temporal(out)
        out = self.bn4(self.conv4(out))
        residual = x if self.downsample is None else self.downsample(x)
        out += residual
        return self.relu(out)


class TorchP3D(nn.Module):
    """naviocean's P3D(Bottleneck, layers) with shortcut B, built from a depth; N, C, 16, H, W -> logits."""

    def __init__(self, depth=199, num_classes=400, in_channels=3, dropout=0.5):
        super().__init__()
        layers = DEPTHS[depth]
        self.depth_3d = sum(layers[:3])  # res2..res4 are 3-D, res5 (layer4) 2-D
        self.conv1_custom = nn.Conv3d(in_channels, 64, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3),
                                      bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=(2, 3, 3), stride=2, padding=(0, 1, 1))
        self.maxpool_2 = nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1), padding=0)
        self.in_planes, self.count = 64, 0
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            self._make_layer(planes, blocks) for planes, blocks in zip((64, 128, 256, 512), layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # naviocean: AvgPool2d(5), the same at 160 x 160
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(512 * EXPANSION, num_classes)

    def _make_layer(self, planes, blocks):
        """naviocean's _make_layer: the first block of a stage strides (none in layer1) and has the shortcut."""
        is_3d, first = self.count < self.depth_3d, self.count == 0
        stride = 1 if first else ((1, 2, 2) if is_3d else 2)
        dims = 3 if is_3d else 2
        downsample = nn.Sequential(CONV[dims](self.in_planes, planes * EXPANSION, kernel_size=1, stride=stride,
                                              bias=False),
                                   NORM[dims](planes * EXPANSION))
        stage = []
        for i in range(blocks):
            stage.append(Bottleneck(self.in_planes, planes, stride if i == 0 else 1, downsample if i == 0 else None,
                                    self.count, self.depth_3d))
            self.in_planes, self.count = planes * EXPANSION, self.count + 1
        return nn.Sequential(*stage)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1_custom(x))))
        x = self.maxpool_2(self.layer1(x))
        x = self.maxpool_2(self.layer2(x))
        x = self.maxpool_2(self.layer3(x))
        n, c, t, h, w = x.shape
        if t != 1:
            raise ValueError(f"naviocean's P3D views (N, C, T, H, W) as (N*T, C, H, W) before layer4, right only "
                             f"for T == 1 (16-frame clips); {t} time steps are left")
        x = self.layer4(x.view(-1, c, h, w))
        x = self.avgpool(x)
        return self.fc(self.dropout(x.view(-1, self.fc.in_features)))


def torch_name(mindspore_name):
    """Our parameter name -> naviocean's key (the converter's scheme, src/weights/p3d_naming.py, imported here
    because it loads MindSpore); None for the dropout's draw counter."""
    from src.weights.p3d_naming import NAVIOCEAN
    if mindspore_name.endswith("draw_count"):
        return None
    return NAVIOCEAN.key("", mindspore_name)


def load_from_mindspore(torch_net, ms_net):
    """Copy our MindSpore P3D's parameters and moving statistics into `torch_net`, strictly; layer4's frame-wise
    (O, I, 1, kh, kw) kernels become 2-D (O, I, kh, kw)."""
    return copy_weights(torch_net, ms_net, torch_name, "P3D", to_torch_shape=True)
