"""The padding rules of the 3-D convolutions and pools: TensorFlow's SAME (I3D, as DeepMind trained it) and
explicit padding (PyTorch's Conv3d(padding=p) and MaxPool3d(padding=p): 3D-ResNet, TSM, P3D).

Shared by the layers (src/models/layers.py) and the C++ kernels' shape inference (src/models/cpu_kernels.py);
the kernels carry the same rules in kernels/kernel_common.h.
"""
SAME = "same"
# In the C++ kernels' geometry a pad of -1 stands for "TensorFlow SAME along this axis": those pads depend on
# the input size, which only the kernel sees.
SAME_IN_KERNELS = -1


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


def triple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3


def parse_padding(padding):
    """`padding` as the layers take it: "same" (TensorFlow SAME), or explicit padding as per-axis (before, after)
    pairs from an int p (p on every side of every axis, as PyTorch's padding=p), a triple (d, h, w) (symmetric
    per axis) or three pairs ((d_before, d_after), (h_before, h_after), (w_before, w_after))."""
    if isinstance(padding, str):
        if padding.lower() != SAME:
            raise ValueError(f"padding must be 'same', an int, a triple or three (before, after) pairs, "
                             f"got '{padding}'")
        return SAME
    axes = triple(padding)
    if len(axes) != 3:
        raise ValueError(f"padding needs one value or pair per axis (d, h, w), got {padding!r}")
    pairs = tuple(tuple(axis) if isinstance(axis, (tuple, list)) else (axis, axis) for axis in axes)
    if any(len(pair) != 2 or any(not isinstance(p, int) or isinstance(p, bool) or p < 0 for p in pair)
           for pair in pairs):
        raise ValueError(f"explicit padding takes non-negative ints, as p, (d, h, w) or ((before, after),) * 3; "
                         f"got {padding!r}")
    return pairs


def axis_padding(padding, axis, size, kernel, stride):
    """(before, after) along `axis` (0, 1, 2 for d, h, w) of a parsed `padding` for an input of length `size`."""
    return tf_same_padding(size, kernel, stride) if padding == SAME else padding[axis]


def output_size(padding, axis, size, kernel, stride):
    """Output length along `axis`: floor((size + before + after - kernel) / stride) + 1, which for SAME is
    ceil(size / stride)."""
    before, after = axis_padding(padding, axis, size, kernel, stride)
    return (size + before + after - kernel) // stride + 1


def output_shape(padding, sizes, kernel, stride):
    return tuple(output_size(padding, a, sizes[a], kernel[a], stride[a]) for a in range(3))


def kernel_pads(padding):
    """The pads of the C++ kernels' geometry: before (d, h, w), then after (d, h, w); -1 where SAME."""
    if padding == SAME:
        return [SAME_IN_KERNELS] * 6
    return [pair[0] for pair in padding] + [pair[1] for pair in padding]


def mindspore_pads(padding):
    """Explicit padding as MindSpore's Conv3D `padding` and MaxPool3D `pad_list` take it:
    (head, tail, top, bottom, left, right)."""
    return tuple(p for pair in padding for p in pair)
