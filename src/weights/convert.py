"""Turn a foreign I3D state dict (numpy arrays under another project's names) into ours, checking everything."""

import mindspore as ms
import numpy as np

from ..fileio import atomic_output
from ..models.layers import is_run_state
from .formats import present_key, split_name, weight_format


class CheckpointMismatchError(ValueError):
    """A source checkpoint does not fill the network exactly."""


def convert_state_dict(source, scheme, target_shapes, source_name="checkpoint"):
    """Map `source` ({their key: array}) onto `target_shapes` ({our name: shape}) with `scheme`.

    Every target is filled and every source tensor is used (scheme.ignored aside); otherwise a
    CheckpointMismatchError lists the missing, unexpected and mis-shaped keys together.
    """
    converted, used = {}, set()
    missing, misshaped = [], []
    for name, shape in target_shapes.items():
        unit, suffix = split_name(name)
        key = scheme.key(unit, suffix)
        if key is None:
            converted[name] = np.ones(shape, np.float32)
            continue
        key = present_key(key, source)  # a format may give one tensor several names (TSM's `conv1.net` or `conv1`)
        if key not in source:
            missing.append(f"{key} (for {name})")
            continue
        used.add(key)
        value = scheme.to_ours(suffix, source[key])
        if tuple(value.shape) != tuple(shape):
            misshaped.append(f"{key}: {tuple(np.shape(source[key]))} -> {tuple(value.shape)}, "
                             f"network {name} needs {tuple(shape)}")
            continue
        converted[name] = value
    unexpected = sorted(k for k in source if k not in used and not scheme.is_ignored(k))
    if missing or unexpected or misshaped:
        lines = [f"{source_name} ({scheme.description}) does not match the network:"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if items:
                lines.append(f"  {len(items)} {title}: " + "; ".join(items[:20])
                             + (" ..." if len(items) > 20 else ""))
        raise CheckpointMismatchError("\n".join(lines))
    return converted


def rgb_to_flow_first_conv(weight, flow_channels=2):
    """Cross-modality initialisation: average the RGB kernel over its input channels, repeat it per flow channel.

    The usual way to start a flow stream from RGB weights (Wang et al., TSN, 2016) when no flow weights exist.
    """
    weight = np.asarray(weight, np.float32)
    if weight.ndim != 5 or weight.shape[1] != 3:
        raise ValueError(f"cross-modality initialisation needs an RGB first conv (O, 3, T, H, W), got {weight.shape}")
    return np.repeat(weight.mean(axis=1, keepdims=True), flow_channels, axis=1)


def save_checkpoint_atomic(params, path, append_dict=None):
    """Write {name: array or Tensor} as a MindSpore checkpoint; a killed process never leaves a partial `path`.

    The file is written under a temporary name in the same folder and renamed when complete: a reader sees
    the old file, the new one, or none, never a truncated one. `append_dict`: {name: int/float} run facts.
    """
    if not str(path).endswith(".ckpt"):
        raise ValueError(f"{path}: a MindSpore checkpoint file name must end in .ckpt")
    with atomic_output(path) as tmp:
        ms.save_checkpoint([{"name": k, "data": v if isinstance(v, ms.Tensor) else ms.Tensor(np.asarray(v))}
                            for k, v in params.items()], tmp, append_dict=append_dict)
    return path


def convert_to_checkpoint(source, save_path, source_name, model="i3d", num_classes=None, to_flow=False,
                          log=print):
    """Convert a foreign state dict of `model`'s family to our checkpoint at `save_path`; return the written names.

    The format is detected among the family's schemes; the network is built with what the weights determine
    (classes, input channels, a 3D-ResNet's shortcut type ...), so no other option is needed, and weights that
    fix another registered model (a 3D-ResNet-34 for `resnet3d_18`) are refused naming the right one.
    num_classes: None or the source's class count keeps the classifier; any other value drops it, so the
    checkpoint holds the backbone only and `create_model(..., num_classes=N)` starts a new N-class head.
    to_flow: cross-modality initialisation of the first conv for a 2-channel flow network.
    """
    from ..models import default_cfg, model_entrypoint

    fmt = weight_format(model)
    scheme = fmt.detect(source, source_name)
    arguments = fmt.network_arguments(source, scheme, source_name)
    fixed_model = arguments.pop("model", model)
    note = arguments.pop("note", None)
    if fixed_model != model:
        raise CheckpointMismatchError(f"{source_name}: the weights are a {fixed_model} ({scheme.description}), not a "
                                      f"{model}: convert with --model {fixed_model}")
    cfg = default_cfg(model)
    net = model_entrypoint(model)(**arguments)
    shapes = {p.name: tuple(p.shape) for p in net.get_parameters() if not is_run_state(p.name)}
    params = convert_state_dict(source, scheme, shapes, source_name)
    source_classes = arguments["num_classes"]
    options = {k: v for k, v in arguments.items() if k not in ("num_classes", "in_channels")}
    log(f"{source_name}: {scheme.description}, {len(params)} tensors, {arguments['in_channels']} input channels, "
        f"{source_classes} classes" + (f", {options}" if options else ""))
    if note:
        log(f"{source_name}: {note}")
    if options:
        log(f"build the network with these options: --model {model} --model_args "
            + ",".join(f"{k}={v}" for k, v in options.items()))
    if to_flow:
        key = f"{cfg['first_conv']}.weight"
        params[key] = rgb_to_flow_first_conv(params[key])
        log(f"cross-modality initialisation: {key} averaged over RGB -> {params[key].shape}")
    if num_classes is not None and num_classes != source_classes:
        params = {k: v for k, v in params.items() if not k.startswith(cfg["classifier"] + ".")}
        log(f"classifier dropped ({source_classes} classes in the source, {num_classes} asked): "
            f"load with num_classes={num_classes} to start a new head")
    save_checkpoint_atomic(params, save_path)
    log(f"wrote {save_path}")
    return sorted(params)
