"""Factories: one obvious entry for each thing an entry script builds."""
from ..training.lr_schedule import create_lr_schedule  # noqa: F401
from ..training.optimizer import classifier_lr_multipliers, create_optimizer  # noqa: F401
from ..training.partial_bn import freeze_batch_norms  # noqa: F401
from .data_factory import (create_dataset, create_evaluation_views, create_temporal_sampler,  # noqa: F401
                           create_transforms)
from .from_config import (apply_model_input, apply_training_settings, check_one_clip_length,  # noqa: F401
                          dataset_from_config, model_from_config, model_normalization, model_sampler,
                          resolve_num_classes, sampler_from_config, stream_paths)
from .model_factory import create_model, in_channels_for  # noqa: F401
