"""Checkpoints: foreign naming schemes, conversion, loading into a network, head replacement, freezing."""
from .convert import CheckpointMismatchError, convert_state_dict, rgb_to_flow_first_conv, save_checkpoint_atomic  # noqa: F401
from .loading import freeze_except, load_pretrained, read_checkpoint  # noqa: F401
from .naming import SCHEMES, detect_scheme  # noqa: F401
