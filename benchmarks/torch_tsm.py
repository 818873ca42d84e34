"""TSM-ResNet as mit-han-lab/temporal-shift-module runs it (`ops/models.py` TSN, `ops/temporal_shift.py`), in
PyTorch: the reference benchmarks/speed.py --model tsm_resnet50 times our src/models/tsm.py against.

Written from mit-han-lab's code, not from ours: a 2-D torchvision ResNet (benchmarks/torch_resnet3d.py's blocks
with dims=2) over the clip's frames folded into the batch (N*T, C, H, W); every bottleneck's `conv1` wrapped by
TemporalShift (`conv1.net`), which views the batch as (N, T, C, H, W) and moves 1/shift_div of the channels each
way in time with zeros_like and slice assignments, as mit-han-lab does; per-frame average pool, dropout, `new_fc`,
the frames' logits averaged. It takes the project's N, C, T, H, W clips and folds them itself (one permute).
"""
import torch
from torch import nn

from benchmarks.torch_resnet3d import Bottleneck, make_layer
from benchmarks.torch_weights import copy_weights

DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class TemporalShift(nn.Module):
    def __init__(self, net, n_segment, n_div):
        super().__init__()
        self.net, self.n_segment, self.fold_div = net, n_segment, n_div

    def forward(self, x):
        nt, c, h, w = x.size()
        x = x.view(nt // self.n_segment, self.n_segment, c, h, w)
        fold = c // self.fold_div
        out = torch.zeros_like(x)
        out[:, :-1, :fold] = x[:, 1:, :fold]
        out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
        out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
        return self.net(out.view(nt, c, h, w))


class TorchTSM(nn.Module):
    def __init__(self, depth=50, num_classes=400, in_channels=3, num_segments=8, shift_div=8, dropout=0.5):
        super().__init__()
        self.num_segments = num_segments
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_planes, stages = 64, []
        for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), DEPTHS[depth])):
            layer, in_planes = make_layer(Bottleneck, in_planes, planes, blocks, 1 if index == 0 else 2, dims=2)
            every = 2 if DEPTHS[depth][2] >= 23 else 1
            for i, block in enumerate(layer):
                if i % every == 0:
                    block.conv1 = TemporalShift(block.conv1, num_segments, shift_div)
            stages.append(layer)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(p=dropout)
        self.new_fc = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        n, c, t, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        logits = self.new_fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return logits.view(n, t, -1).mean(dim=1)


def torch_name(mindspore_name):
    """Our parameter name -> this network's key (mit-han-lab's without `module.base_model.`, alternatives as a
    tuple: `conv1.net` where a block shifts), through the converter's own scheme (src/weights/tsm_naming.py,
    imported here because it loads MindSpore); None for the dropout counter."""
    from src.weights.formats import source_key
    from src.weights.tsm_naming import MIT_HAN_LAB_BARE
    if mindspore_name.endswith("draw_count"):
        return None
    keys = source_key(MIT_HAN_LAB_BARE, mindspore_name)
    return tuple(k[len("base_model."):] if k.startswith("base_model.") else k
                 for k in (keys if isinstance(keys, tuple) else (keys,)))


def load_from_mindspore(torch_net, ms_net):
    return copy_weights(torch_net, ms_net, torch_name, "TSM", to_torch_shape=True)
