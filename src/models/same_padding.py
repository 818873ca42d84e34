"""TensorFlow's SAME padding rule, shared by the layers (src/models/layers.py) and the C++ kernels' shape
inference (src/models/cpu_kernels.py; the kernels carry the same rule in kernels/kernel_common.h)."""


def tf_same_padding(size, kernel, stride):
    """Padding (before, after) that TensorFlow's "SAME" adds along one axis of length `size`.

    The output length is ceil(size / stride); the total padding is max(kernel - stride, 0) when stride
    divides size, else max(kernel - size % stride, 0). The odd pixel goes at the END, as DeepMind trained
    I3D (PyTorch ports that pad symmetrically shift every strided layer by one pixel).
    """
    if size % stride == 0:
        total = max(kernel - stride, 0)
    else:
        total = max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def tf_same_output_size(size, stride):
    return -(-size // stride)
