"""The one definition of a network's input scaling: uint8 pixel values -> float32 model input.

A model's default_cfg (`input`: mean, std) states it on values in [0, 1], as torchvision and kenshohara's
mean.py do: I3D's [-1, 1] is mean 0.5, std 0.5 (x / 127.5 - 1, the range DeepMind trained on); kenshohara's
3D-ResNet uses the Kinetics mean (0.4345, 0.4051, 0.3775) and std (0.2768, 0.2713, 0.2737). A 2-channel flow input
takes the model's `flow_mean` / `flow_std` where it states them (TSN's 0.5 / 0.226), else the first two values of
each, as kenshohara's opts do. Everything that feeds a network (datasets,
preprocess.py for the 310 route, infer.py, the parity report) scales through this class.
"""
from dataclasses import dataclass

import numpy as np

FLOW_CHANNELS = 2


@dataclass(frozen=True)
class Normalization:
    mean: tuple  # per channel, on values in [0, 1]
    std: tuple
    flow_mean: tuple = None  # a 2-channel flow input's own (x, y) values, where the model states them
    flow_std: tuple = None

    def __post_init__(self):
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError(f"normalisation needs one mean and one std per channel, got {self.mean} and {self.std}")
        if min(self.std) <= 0:
            raise ValueError(f"normalisation std must be positive, got {self.std}")
        if (self.flow_mean is None) != (self.flow_std is None):
            raise ValueError("a flow normalisation needs both flow_mean and flow_std")
        if self.flow_mean is not None:
            Normalization(tuple(self.flow_mean), tuple(self.flow_std))  # the same checks
            if len(self.flow_mean) != FLOW_CHANNELS:
                raise ValueError(f"flow_mean and flow_std need {FLOW_CHANNELS} values (x, y), got {self.flow_mean}")

    def for_channels(self, channels):
        """The scaling of a `channels`-channel input: a flow input's (2 channels) own values if given (TSN's flow
        mean 0.5, std 0.226: TSM, P3D), else the first `channels` values (flow: x, y, as kenshohara's opts)."""
        if channels == FLOW_CHANNELS and self.flow_mean is not None:
            return Normalization(tuple(self.flow_mean), tuple(self.flow_std))
        if channels > len(self.mean):
            raise ValueError(f"normalisation has {len(self.mean)} channels, the input {channels}")
        return Normalization(tuple(self.mean[:channels]), tuple(self.std[:channels]))

    @property
    def uniform(self):
        """One mean and one std for every channel (then a batch is scaled by two scalar operations)."""
        return len(set(self.mean)) == 1 and len(set(self.std)) == 1

    @property
    def offset(self):
        """The mean in uint8 units (I3D: 127.5)."""
        return np.float32(255.0) * np.asarray(self.mean, np.float32)

    @property
    def scale(self):
        """The std in uint8 units (I3D: 127.5)."""
        return np.float32(255.0) * np.asarray(self.std, np.float32)

    def apply(self, values, channel_axis):
        """uint8 (or float) values with channels on `channel_axis` -> float32 (x - offset) / scale. Centring first
        is exact for integers: I3D maps 255 to 1.0, not 1.0000001."""
        shape = [1] * np.ndim(values)
        shape[channel_axis] = len(self.mean)
        out = np.asarray(values, np.float32) - self.offset.reshape(shape)
        out /= self.scale.reshape(shape)
        return out

    def to_model_input(self, clip):
        """uint8 (T, H, W, C) -> float32 (C, T, H, W), scaled."""
        return self.apply(np.moveaxis(clip, 3, 0), channel_axis=0)


I3D_SCALING = Normalization(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))  # [-1, 1]
# torchvision's ImageNet statistics: TSN and TSM (mit-han-lab, mmaction2's 123.675/58.395... on 0-255); TSN's flow
# (mit-han-lab ops/models.py, naviocean's P3D): mean 0.5, std the mean of ImageNet's three, 0.226
IMAGENET_SCALING = Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), flow_mean=(0.5, 0.5),
                                 flow_std=(0.226, 0.226))
