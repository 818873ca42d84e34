"""Video backbones. Importing a model module registers its constructors."""
from . import i3d  # noqa: F401  (registers i3d)
from . import resnet3d  # noqa: F401  (registers resnet3d_10 ... resnet3d_200)
from . import tsm  # noqa: F401  (registers tsm_resnet50, tsm_resnet101)
from . import p3d  # noqa: F401  (registers p3d63, p3d131, p3d199)
from .registry import (check_cfg_names, default_cfg, is_model, list_models, model_entrypoint,  # noqa: F401
                       register_model)
