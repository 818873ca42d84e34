"""Video backbones. Importing a model module registers its constructors."""
from . import i3d  # noqa: F401  (registers i3d)
from .registry import default_cfg, is_model, list_models, model_entrypoint, register_model  # noqa: F401
