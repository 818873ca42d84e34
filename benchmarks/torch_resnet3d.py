"""kenshohara's 3D-ResNet (3D-ResNets-PyTorch, `models/resnet.py`) in PyTorch: the reference the speed benchmark
(benchmarks/speed.py --model resnet3d_18|resnet3d_50) times our src/models/resnet3d.py against.

Written again from kenshohara's code, not from ours: stem Conv3d (conv1_t_size, 7, 7), stride (conv1_t_stride, 2, 2),
padding (conv1_t_size // 2, 3, 3), no bias -> BatchNorm3d -> ReLU -> MaxPool3d(3, 2, 1); layer1..layer4 of
BasicBlock / Bottleneck (expansion 1 / 4) with strides 1, 2, 2, 2; shortcut B (1x1x1 strided conv + BN,
`downsample.0` / `downsample.1`) or A (every stride-th position, zero channels appended, no gradient);
AdaptiveAvgPool3d(1); Linear `fc`. BatchNorm eps 1e-5, momentum 0.1 (PyTorch's defaults, kenshohara's). The
module names are kenshohara's, so a state dict of this network is a kenshohara checkpoint.

torch is optional for the project: only the benchmarks and their test import this file, and it does not import
MindSpore (the PyTorch-only memory process must not hold MindSpore's libraries); `load_from_mindspore` reads the
names through src/weights/resnet3d_naming.py, imported when it is called (a process that has a MindSpore network).
"""
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.torch_weights import copy_weights

INPLANES = (64, 128, 256, 512)  # kenshohara's get_inplanes()


# 2: torchvision's 2-D ResNet (TSM's backbone, benchmarks/torch_tsm.py); 3: kenshohara's 3-D one
CONV = {2: nn.Conv2d, 3: nn.Conv3d}
NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


def conv3x3x3(in_planes, out_planes, stride=1, dims=3):
    return CONV[dims](in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1x1(in_planes, out_planes, stride=1, dims=3):
    return CONV[dims](in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1, downsample=None, dims=3):
        super().__init__()
        self.conv1 = conv3x3x3(in_planes, planes, stride, dims=dims)
        self.bn1 = NORM[dims](planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3x3(planes, planes, dims=dims)
        self.bn2 = NORM[dims](planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1, downsample=None, dims=3):
        super().__init__()
        self.conv1 = conv1x1x1(in_planes, planes, dims=dims)
        self.bn1 = NORM[dims](planes)
        self.conv2 = conv3x3x3(planes, planes, stride, dims=dims)
        self.bn2 = NORM[dims](planes)
        self.conv3 = conv1x1x1(planes, planes * self.expansion, dims=dims)
        self.bn3 = NORM[dims](planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


# kenshohara's generate_model(): depth -> (block, blocks per stage)
DEPTHS = {
    10: (BasicBlock, (1, 1, 1, 1)),
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
    200: (Bottleneck, (3, 24, 36, 3)),
}


class TorchResNet3D(nn.Module):
    """kenshohara's ResNet(block, layers, block_inplanes, ...), built from a depth; N, C, T, H, W -> logits."""

    def __init__(self, depth=18, num_classes=400, in_channels=3, shortcut_type="B", conv1_t_size=7,
                 conv1_t_stride=1, no_max_pool=False, widen_factor=1.0):
        super().__init__()
        block, layers = DEPTHS[depth]
        block_inplanes = [int(x * widen_factor) for x in INPLANES]
        self.in_planes = block_inplanes[0]
        self.no_max_pool = no_max_pool
        self.conv1 = nn.Conv3d(in_channels, self.in_planes, kernel_size=(conv1_t_size, 7, 7),
                               stride=(conv1_t_stride, 2, 2), padding=(conv1_t_size // 2, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(self.in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, block_inplanes[0], layers[0], shortcut_type)
        self.layer2 = self._make_layer(block, block_inplanes[1], layers[1], shortcut_type, stride=2)
        self.layer3 = self._make_layer(block, block_inplanes[2], layers[2], shortcut_type, stride=2)
        self.layer4 = self._make_layer(block, block_inplanes[3], layers[3], shortcut_type, stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(block_inplanes[3] * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    @staticmethod
    def _downsample_basic_block(x, planes, stride):
        out = F.avg_pool3d(x, kernel_size=1, stride=stride)
        zero_pads = torch.zeros(out.size(0), planes - out.size(1), out.size(2), out.size(3), out.size(4),
                                dtype=out.dtype, device=out.device)
        return torch.cat([out.data, zero_pads], dim=1)

    def _make_layer(self, block, planes, blocks, shortcut_type, stride=1):
        if shortcut_type == "A" and (stride != 1 or self.in_planes != planes * block.expansion):
            def downsample(x, planes=planes * block.expansion, stride=stride):
                return self._downsample_basic_block(x, planes, stride)
            layers = [block(self.in_planes, planes, stride, downsample)]
            self.in_planes = planes * block.expansion
            return nn.Sequential(*layers, *[block(self.in_planes, planes) for _ in range(1, blocks)])
        layer, self.in_planes = make_layer(block, self.in_planes, planes, blocks, stride)
        return layer

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if not self.no_max_pool:
            x = self.maxpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.fc(x.view(x.size(0), -1))


def make_layer(block, in_planes, planes, blocks, stride=1, dims=3):
    """(one stage of `blocks` blocks with shortcut B where the shape changes, its output channels): torchvision's
    and kenshohara's _make_layer."""
    downsample = None
    if stride != 1 or in_planes != planes * block.expansion:
        downsample = nn.Sequential(conv1x1x1(in_planes, planes * block.expansion, stride, dims=dims),
                                   NORM[dims](planes * block.expansion))
    layers = [block(in_planes, planes, stride, downsample, dims=dims)]
    out_planes = planes * block.expansion
    layers += [block(out_planes, planes, dims=dims) for _ in range(1, blocks)]
    return nn.Sequential(*layers), out_planes


def torch_name(mindspore_name):
    """'layer1.0.bn1.moving_mean' -> 'layer1.0.bn1.running_mean': kenshohara's key for our parameter, as the
    checkpoint converter reads it (src/weights/resnet3d_naming.py, imported here because it loads MindSpore)."""
    from src.weights.resnet3d_naming import KENSHOHARA_200EP
    return KENSHOHARA_200EP.key("", mindspore_name)


def load_from_mindspore(torch_net, ms_net):
    """Copy every parameter and BatchNorm moving statistic of our MindSpore 3D-ResNet `ms_net` into `torch_net`.

    Strict both ways: each PyTorch tensor (num_batches_tracked aside) must be filled exactly once with a tensor
    of its shape, otherwise one error lists what is missing, unexpected or mis-shaped.
    """
    return copy_weights(torch_net, ms_net, torch_name, "3D-ResNet")
