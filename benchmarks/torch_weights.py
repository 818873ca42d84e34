"""Copying a MindSpore network's weights into the PyTorch network of the same architecture, for the benchmarks'
side-by-side runs (torch_i3d.py, torch_resnet3d.py). Imports torch only: the PyTorch-only memory process
(speed.py) must not load MindSpore."""
import torch


def copy_weights(torch_net, ms_net, torch_name, network="network", to_torch_shape=False):
    """Copy every parameter and BatchNorm moving statistic of `ms_net` into `torch_net`; `torch_name` maps our
    parameter name to the PyTorch key (or a tuple of the keys it may have; None: a MindSpore-only tensor, such as the dropout's draw counter).

    Strict both ways: each PyTorch tensor (num_batches_tracked aside) must be filled exactly once with a tensor
    of its shape, otherwise one error lists what is missing, unexpected or mis-shaped. to_torch_shape: a tensor
    of as many values takes the PyTorch tensor's shape (our frame-wise 3-D kernels into 2-D convolutions).
    """
    state = torch_net.state_dict()
    targets = {k for k in state if not k.endswith("num_batches_tracked")}
    filled, unexpected, misshaped = set(), [], []
    with torch.no_grad():
        for param in ms_net.get_parameters():
            key = torch_name(param.name)
            if key is None:
                continue
            if isinstance(key, tuple):  # the names the tensor may have: the one this network uses
                key = next((k for k in key if k in targets), key[0])
            if key not in targets:
                unexpected.append(f"{param.name} -> {key}")
                continue
            value = torch.from_numpy(param.asnumpy().copy())
            if to_torch_shape and value.numel() == state[key].numel():  # TSM's (O, I, 1, k, k) is a 2-D (O, I, k, k)
                value = value.reshape(state[key].shape)
            if tuple(value.shape) != tuple(state[key].shape):
                misshaped.append(f"{param.name} {tuple(value.shape)} -> {key} {tuple(state[key].shape)}")
                continue
            state[key].copy_(value)
            filled.add(key)
    missing = sorted(targets - filled)
    if missing or unexpected or misshaped:
        raise ValueError(f"MindSpore and PyTorch {network} differ: missing {missing[:10]}, unexpected "
                         f"{unexpected[:10]}, mis-shaped {misshaped[:10]}")
    return torch_net
