"""Export a network to MINDIR, ONNX or AIR and check the exported file computes what the network computes."""
import os
import tempfile

import mindspore as ms
import numpy as np

from ..context import require_device
from ..fileio import publish
from ..mindspore_log import without_mindspore_log
from ..models.layers import use_cpu_kernels
from .runtime import ExportedModel

EXTENSIONS = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}


class ExportMismatchError(RuntimeError):
    pass


def relative_l2(actual, expected):
    expected = np.asarray(expected, np.float64)
    return float(np.linalg.norm(np.asarray(actual, np.float64) - expected) / max(np.linalg.norm(expected), 1e-12))


def check_export_request(file_format, device_target, dynamic_batch=False):
    """Refuse what cannot work before any work is done."""
    if file_format not in EXTENSIONS:
        raise ValueError(f"file_format must be one of {sorted(EXTENSIONS)}, got '{file_format}'")
    if file_format == "AIR":
        if device_target != "Ascend":
            raise ValueError("AIR export needs an Ascend device (--device_target Ascend); "
                             "on CPU or GPU export MINDIR or ONNX instead")
        require_device("Ascend", "AIR export")
    if dynamic_batch and file_format != "MINDIR":
        raise ValueError(f"a dynamic batch is only supported for MINDIR; MindSpore's {file_format} export of "
                         "BatchNorm needs a fixed batch")


def run_exported(path, inputs):
    """Logits of an exported MINDIR (run by MindSpore) or ONNX file (run by onnxruntime) for numpy `inputs`."""
    return ExportedModel(path)(inputs)


def export_model(net, file_name, file_format, input_shape, device_target="CPU", dynamic_batch=False,
                 verify=True, tolerance=1e-4, seed=0):
    """Export `net` (in inference mode) for inputs of `input_shape` (N, C, T, H, W); return the file path.

    The file is written under a temporary name and renamed when complete (and, with `verify`, only after the
    exported file reproduced the network's logits on a random clip within relative L2 `tolerance`).
    """
    check_export_request(file_format, device_target, dynamic_batch)
    net.set_train(False)
    inputs = np.clip(np.random.default_rng(seed).standard_normal(input_shape), -1, 1).astype(np.float32)
    extension = EXTENSIONS[file_format]
    base = file_name[:-len(extension)] if file_name.lower().endswith(extension) else file_name
    final_path = os.path.abspath(base + extension)
    directory = os.path.dirname(final_path)
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=directory) as tmp:
        tmp_base = os.path.join(tmp, os.path.basename(base))
        example = ms.Tensor(shape=[None, *input_shape[1:]], dtype=ms.float32) if dynamic_batch else ms.Tensor(inputs)
        # The file must hold MindSpore's operators, not this machine's C++ kernels.
        use_cpu_kernels(net, False)
        try:
            # ms.onnx.export, the route MindSpore's deprecation message recommends, compiles graphs differently and
            # cannot export the explicit-padding pool (PyExecute): ms.export, without its deprecation line.
            with without_mindspore_log("will be deleted, please use mindspore.onnx.export"):
                ms.export(net, example, file_name=tmp_base, file_format=file_format)
        finally:
            use_cpu_kernels(net, True)
        tmp_path = tmp_base + extension
        if not os.path.isfile(tmp_path):
            raise RuntimeError(f"MindSpore reported no error but wrote no {tmp_path}")
        if verify and file_format != "AIR":
            expected = net(ms.Tensor(inputs)).asnumpy()
            error = relative_l2(run_exported(tmp_path, inputs), expected)
            if not error <= tolerance:
                raise ExportMismatchError(f"{final_path}: the exported {file_format} differs from the network "
                                          f"(relative L2 {error:.2e} > {tolerance:.0e}); nothing was written")
        publish(tmp_path, final_path)
    return final_path
