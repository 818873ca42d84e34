"""Factories: one obvious entry for each thing an entry script builds."""
from .data_factory import create_dataset, create_temporal_sampler, create_transforms  # noqa: F401
from .model_factory import create_model, in_channels_for  # noqa: F401
