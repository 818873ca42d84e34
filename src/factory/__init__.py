"""Factories: one obvious entry for each thing an entry script builds."""
from .model_factory import create_model, in_channels_for  # noqa: F401
