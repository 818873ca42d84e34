"""C++ kernels for MindSpore's CPU backend, compiled on first use and run as "aot" Custom ops.

The kernels (benchmarks/NOTES.md has the measurements that motivate them), both for TensorFlow SAME and
explicit padding (src/models/padding.py):
- `conv3d_onednn.cc`: the 3-D convolution (forward and both gradients) through MindSpore's own oneDNN,
  with the weights in the layout oneDNN prefers, so that its AVX-512 kernels run (2.3-2.5x faster than
  MindSpore's Conv3D, which has to run capped at AVX2); and, for inference, the convolution followed by its
  BatchNorm, residual add and ReLU in one call (`conv3d_bn_ops`, used by layers.conv_bn);
- `max_pool3d.cc`: the max pool (its output only: MindSpore's holds ~8x its output besides) and its gradient
  (6-9x faster than MindSpore's MaxPool3DGrad) (`max_pool3d_ops`, used by layers.max_pool3d);
- `batch_norm_train.cc`: a training BatchNorm with the residual add and ReLU after it, forward and backward
  (`batch_norm_train_ops`, used by batch_norm.batch_norm_train through layers.conv_bn);
- `temporal_shift.cc`: TSM's shift (src/models/tsm.py);
- `momentum_update.cc`: SGD with momentum and weight decay, one parameter updated in place
  (`momentum_update_op`, used by src/training/optimizer.Momentum).

The oneDNN ISA is one setting per process, read when oneDNN creates its first primitive. `import src` caps
it at AVX2, which MindSpore's own Conv3D needs on AVX-512 CPUs (it otherwise runs oneDNN's reference
kernel, ~100x slower). Which ISA a process gets is decided here, once:
- by default the first C++ convolution built lifts that cap again, since from then on the network's
  convolutions are ours (AVX-512);
- a process that will also run MindSpore's own Conv3D (a MINDIR model beside checkpoint networks in one
  joint evaluation, an export verified in the process that trained) calls `plan_mindspore_convolutions`
  before it builds any network: the cap stays, the C++ convolutions run on oneDNN's AVX2 kernels and
  MindSpore's Conv3D stays fast;
- MindSpore's own Conv3D in a process already uncapped (a MINDIR model, a network built with the kernels
  off, after a C++ convolution and without that plan) is refused with a clear error (`require_capped_onednn`)
  instead of running ~100x slower.

Each kernel is a source file in `src/models/kernels/`. It is compiled once per machine with the system's
g++ into a cache folder (`$I3D_KERNEL_CACHE`, default `~/.cache/i3d-mindspore/kernels`) under a name that
includes the hash of its source and flags, written atomically, so an edited source is rebuilt and a
killed build leaves nothing half-written. Where no kernel can be built (no g++, a foreign platform, a
`MS_CUSTOM_AOT_WHITE_LIST` that excludes the cache), the caller falls back to MindSpore's own op and the
reason is printed once. `I3D_CPU_KERNELS=0` turns them off (the benchmarks' "before" figures).
"""
import ctypes
import functools
import glob
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import warnings

import numpy as np

import mindspore as ms
from mindspore import ops

from src.fileio import atomic_output

from .padding import kernel_pads, output_shape, parse_padding

KERNEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels")
# -march=native: the library is built on, and cached for, the machine that runs it.
# -fopenmp-simd: `#pragma omp simd` (vectorised reductions) without the OpenMP runtime.
# -D_GLIBCXX_USE_CXX11_ABI=0: MindSpore's C++ ABI, for the std::string arguments of its AotExtra (mindspore_aot.h).
CXX_FLAGS = ("-O3", "-march=native", "-std=c++17", "-fopenmp-simd", "-shared", "-fPIC", "-pthread",
             "-D_GLIBCXX_USE_CXX11_ABI=0")
MINDSPORE_LIB = os.path.join(os.path.dirname(os.path.abspath(ms.__file__)), "lib")
ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
DNNL_CPU_ISA_AVX2 = 0x7  # dnnl_cpu_isa_t (dnnl_types.h); AVX-512 levels are larger


class KernelUnavailable(RuntimeError):
    pass


def kernel_cache_dir():
    return os.environ.get("I3D_KERNEL_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "i3d-mindspore", "kernels"))


def onednn_link_flags():
    """Compile against oneDNN's headers (the pinned `onednn-devel` package) and link MindSpore's own
    libdnnl.so.3, so the kernel shares the library, and its ISA setting, with MindSpore."""
    include = os.path.join(sys.prefix, "include")
    if not os.path.isfile(os.path.join(include, "oneapi", "dnnl", "dnnl.h")):
        raise KernelUnavailable(f"oneDNN headers not found in {include} (install requirements-weights.txt: "
                                "pip install --no-deps onednn-devel==2026.1.0)")
    if not os.path.isfile(os.path.join(MINDSPORE_LIB, "libdnnl.so.3")):
        raise KernelUnavailable(f"this MindSpore has no {MINDSPORE_LIB}/libdnnl.so.3")
    return ("-I" + include, "-L" + MINDSPORE_LIB, "-l:libdnnl.so.3", "-Wl,-rpath," + MINDSPORE_LIB)


CONVOLUTION_SOURCE = "conv3d_onednn.cc"
CONVOLUTION_FALLBACK = "convolutions use MindSpore's Conv3D (capped at AVX2)"  # said once if it cannot be built
LINK_FLAGS = {CONVOLUTION_SOURCE: onednn_link_flags}


def build_kernel(source_name):
    """Path of the compiled library for `kernels/<source_name>`, building it if needed."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        raise KernelUnavailable(f"CPU custom kernels are built on x86-64 Linux only, not "
                                f"{platform.system()} {platform.machine()}")
    source = os.path.join(KERNEL_DIR, source_name)
    link_flags = LINK_FLAGS[source_name]() if source_name in LINK_FLAGS else ()
    digest = hashlib.sha256(" ".join(CXX_FLAGS + link_flags).encode())
    for path in [source, *sorted(glob.glob(os.path.join(KERNEL_DIR, "*.h")))]:  # the source and its headers
        with open(path, "rb") as f:
            digest.update(f.read())
    digest = digest.hexdigest()[:16]
    cache = os.path.abspath(kernel_cache_dir())
    allowed = os.environ.get("MS_CUSTOM_AOT_WHITE_LIST")
    if allowed and not (cache + os.sep).startswith(os.path.abspath(allowed).rstrip(os.sep) + os.sep):
        raise KernelUnavailable(f"MS_CUSTOM_AOT_WHITE_LIST={allowed} does not contain the kernel cache {cache} "
                                "(set I3D_KERNEL_CACHE to a folder inside it)")
    library = os.path.join(cache, f"{os.path.splitext(source_name)[0]}-{digest}.so")
    if os.path.exists(library):
        return library
    compiler = os.environ.get("CXX") or shutil.which("g++")
    if not compiler:
        raise KernelUnavailable("no C++ compiler (g++) on PATH")
    with atomic_output(library) as tmp:
        result = subprocess.run([compiler, *CXX_FLAGS, "-o", tmp, source, *link_flags], capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise KernelUnavailable(f"{compiler} failed on {source}:\n{result.stderr[-2000:]}")
    return library


def kernels_enabled():
    return ms.get_context("device_target") == "CPU" and os.environ.get("I3D_CPU_KERNELS", "1") != "0"


@functools.lru_cache(maxsize=None)
def kernel_library(source_name, reason_for_fallback):
    """The built library of a kernel, or None (after a warning saying why) when it cannot be built."""
    try:
        return build_kernel(source_name)
    except (KernelUnavailable, OSError) as error:
        warnings.warn(f"{source_name}: {error}; {reason_for_fallback}", stacklevel=4)
        return None


@functools.lru_cache(maxsize=None)
def cpu_custom_op(source_name, function, reason_for_fallback):
    """An aot Custom op whose output has the first input's shape and dtype, or None when the device is not
    CPU, the kernels are off, or the kernel cannot be built."""
    library = kernel_library(source_name, reason_for_fallback) if kernels_enabled() else None
    if library is None:
        return None
    return ops.Custom(f"{library}:{function}", out_shape=_first, out_dtype=_first, func_type="aot")


def forget_built_ops():
    """Forget the ops and libraries looked up so far (after changing I3D_CPU_KERNELS or the cache folder)."""
    for cached in (kernel_library, cpu_custom_op, conv3d_ops, conv3d_bn_ops, batch_norm_train_ops, max_pool3d_ops,
                   momentum_update_op):
        cached.cache_clear()


# ---------------------------------------------------------------------------------------------------------
# the oneDNN ISA of this process
# ---------------------------------------------------------------------------------------------------------

def _onednn():
    # The library MindSpore has loaded already (same soname): asking it is asking MindSpore's oneDNN.
    return ctypes.CDLL(os.path.join(MINDSPORE_LIB, "libdnnl.so.3"))


def effective_onednn_isa():
    """oneDNN's ISA in this process (dnnl_cpu_isa_t). The first call of this, or oneDNN's first primitive,
    fixes it for the life of the process from ONEDNN_MAX_CPU_ISA."""
    return _onednn().dnnl_get_effective_cpu_isa()


def onednn_isa_name(isa=None):
    isa = effective_onednn_isa() if isa is None else isa
    return "AVX2 or lower" if isa <= DNNL_CPU_ISA_AVX2 else f"above AVX2 (dnnl_cpu_isa_t {isa:#x})"


# Why this process runs MindSpore's own Conv3D, once that is known (`require_capped_onednn` passed): from
# then on the cap stays, also in the environment that processes started from this one inherit.
_mindspore_convolutions_run_for = None


def lift_isa_cap_for_kernels():
    """Called when the first C++ convolution is built: unless this process runs MindSpore's own Conv3D too
    (`plan_mindspore_convolutions`), remove the AVX2 cap that `import src` set (never a user's own setting),
    then fix oneDNN's ISA. When oneDNN had already started capped, our convolutions still run, with its AVX2
    kernels."""
    import src
    if _mindspore_convolutions_run_for is None and src.onednn_cap_is_ours():
        os.environ.pop(ISA_VARIABLE)
        os.environ.pop(src.ONEDNN_CAP_MARKER)
    effective_onednn_isa()


def plan_mindspore_convolutions(reason):
    """Call before any network is built, in a process that will run MindSpore's own Conv3D as well (`reason`:
    e.g. "the MINDIR model m.mindir of this joint evaluation"): oneDNN's ISA is fixed at the AVX2 cap now, so
    the C++ convolutions built afterwards run on oneDNN's AVX2 kernels and MindSpore's Conv3D runs on its
    fast ones. Raises the error of `require_capped_onednn` when oneDNN runs above AVX2 already (a C++
    convolution was built earlier in this process)."""
    require_capped_onednn(reason)


def require_capped_onednn(what):
    """Before MindSpore's own Conv3D runs on CPU (`what`: a MINDIR model, a network built without the C++
    convolution): make sure oneDNN is capped at AVX2, since above it that Conv3D runs oneDNN's reference
    kernel (~100x slower). Fixes oneDNN's ISA if nothing did before, and keeps the cap from then on."""
    global _mindspore_convolutions_run_for
    if ms.get_context("device_target") != "CPU" or platform.machine().lower() not in ("x86_64", "amd64"):
        return
    isa = effective_onednn_isa()
    if isa <= DNNL_CPU_ISA_AVX2:
        if _mindspore_convolutions_run_for is None:
            _mindspore_convolutions_run_for = what
        return
    message = (f"{what} runs MindSpore's own Conv3D, which on this CPU needs oneDNN capped at AVX2, but oneDNN "
               f"in this process already runs {onednn_isa_name(isa)}")
    if os.environ.get(ISA_VARIABLE) not in (None, "AVX2"):
        warnings.warn(f"{message} (ONEDNN_MAX_CPU_ISA={os.environ[ISA_VARIABLE]} was set by you): expect it "
                      "to be ~100x slower", stacklevel=2)
        return
    raise RuntimeError(f"{message}, for the C++ convolutions of a network built earlier. Call "
                       "src.models.cpu_kernels.plan_mindspore_convolutions before building any network, run it in "
                       "a separate process, or set I3D_CPU_KERNELS=0 for the whole process.")


# ---------------------------------------------------------------------------------------------------------
# the convolution ops
# ---------------------------------------------------------------------------------------------------------

# Shape and dtype inference of the Custom ops: named functions, not lambdas (MindSpore reads their source).
def _first(x, *rest):
    return x


def _second(x, w, *rest):
    return w


def conv3d_output_shape(x_shape, w_shape, stride, padding):
    """(N, O, OD, OH, OW) of the convolution of x (N, C, D, H, W) by w (O, C, KD, KH, KW); a clear error when
    the padded input is smaller than the kernel."""
    sizes = output_shape(padding, x_shape[2:], w_shape[2:], stride)
    if min(sizes) < 1:
        raise ValueError(f"a 3-D convolution with kernel {tuple(w_shape[2:])}, stride {tuple(stride)} and padding "
                         f"{padding!r} needs a larger input than {tuple(x_shape[2:])} (T, H, W)")
    return [x_shape[0], w_shape[0], *sizes]


def convolution_geometry(stride, padding):
    """The kernels' geometry argument: stride, pad before, pad after (d, h, w); pads of -1 where SAME."""
    return [*stride, *kernel_pads(padding)]


@functools.lru_cache(maxsize=None)
def conv3d_ops(stride, padding):
    """The forward op (with its gradient) of the C++ convolution for one stride and parsed padding
    (src/models/padding.py), or None where it is unavailable.

    forward(x, w, geometry) -> y, geometry being `convolution_geometry(stride, padding)` as an int64 tensor;
    its bprop calls the backward-data and backward-weights kernels.
    """
    if not kernels_enabled():
        return None
    library = kernel_library(CONVOLUTION_SOURCE, CONVOLUTION_FALLBACK)
    if library is None:
        return None
    lift_isa_cap_for_kernels()
    like_x, like_w = _conv3d_backward_ops(library, stride, padding)

    def bprop(x, w, g, out, dout):
        return like_x(x, w, dout, g), like_w(x, w, dout, g), ops.zeros_like(g)

    def infer_shape(x, w, g):
        return conv3d_output_shape(x, w, stride, padding)

    forward = ops.Custom(f"{library}:Conv3dForward", out_shape=infer_shape, out_dtype=_first, func_type="aot",
                         bprop=bprop)
    # PyNative caches an op's inferred output shape by its name, attributes and input shapes, not by this Python
    # function: I3D's stem (stride 2, SAME) and kenshohara's (stride 1,2,2, pad 3) see the same input shapes, so
    # the geometry must be an attribute, or the second one gets the first one's output shape.
    forward.add_prim_attr("geometry", tuple(convolution_geometry(stride, padding)))
    return forward


def _conv3d_backward_ops(library, stride, padding):
    """(backward data, backward weights) of the C++ convolution: dx(x, w, dy, geometry), dw(x, w, dy, geometry)."""
    like_x = ops.Custom(f"{library}:Conv3dBackwardData", out_shape=_first, out_dtype=_first, func_type="aot")
    like_w = ops.Custom(f"{library}:Conv3dBackwardWeights", out_shape=_second, out_dtype=_second, func_type="aot")
    for op in (like_x, like_w):
        op.add_prim_attr("geometry", tuple(convolution_geometry(stride, padding)))  # see conv3d_ops
    return like_x, like_w


MAX_POOL_SOURCE = "max_pool3d.cc"


@functools.lru_cache(maxsize=None)
def max_pool3d_ops(kernel_size, stride, padding):
    """The C++ max pool for one kernel size, stride and parsed padding (its gradient the C++ one), or None where
    the kernels are unavailable: forward(x, geometry) -> y, geometry the int64 tensor of max_pool_geometry."""
    library = kernel_library(MAX_POOL_SOURCE, "the max pool falls back to MindSpore's MaxPool3D and MaxPool3DGrad") \
        if kernels_enabled() else None
    if library is None:
        return None
    gradient = ops.Custom(f"{library}:MaxPool3dGrad", out_shape=_first, out_dtype=_first, func_type="aot")

    def bprop(x, geometry, out, dout):
        return gradient(x, dout, geometry), ops.zeros_like(geometry)

    def infer_shape(x, geometry):
        return [x[0], x[1], *output_shape(padding, x[2:], kernel_size, stride)]

    forward = ops.Custom(f"{library}:MaxPool3dForward", out_shape=infer_shape, out_dtype=_first, func_type="aot",
                         bprop=bprop)
    for op in (forward, gradient):
        op.add_prim_attr("geometry", tuple(max_pool_geometry(kernel_size, stride, padding)))  # see conv3d_ops
    return forward


def max_pool_geometry(kernel_size, stride, padding):
    """The max-pool kernels' geometry argument: kernel, stride, pad before, pad after (t, h, w); -1 where SAME."""
    return [*kernel_size, *stride, *kernel_pads(padding)]


@functools.lru_cache(maxsize=None)
def conv3d_bn_ops(stride, padding):
    """The inference ops of a C++ convolution followed by a BatchNorm with moving statistics [+ a residual]
    [-> ReLU], or None where the C++ convolution is unavailable: {(has_bias, has_residual): op},
    op(x, w, gamma, beta, moving_mean, moving_variance, [bias,] [residual,] geometry, settings)
    -> relu?((conv(x, w) [+ bias] - mean) * gamma / sqrt(variance + eps) + beta [+ residual]), settings float32
    [eps, relu] (FlatBatchNorm3d's settings_linear / settings_relu).

    Their gradient is exact (for a network in eval mode that is differentiated: saliency, a frozen-BN fine-tune
    in eval mode): it recomputes conv(x, w) for gamma's gradient; the moving statistics get none, as in MindSpore's
    inference BatchNorm. Training itself never takes this path."""
    forward = conv3d_ops(stride, padding)
    if forward is None:
        return None
    library = kernel_library(CONVOLUTION_SOURCE, CONVOLUTION_FALLBACK)  # built already: conv3d_ops has it
    like_x, like_w = _conv3d_backward_ops(library, stride, padding)
    channel_axes = (0, 2, 3, 4)

    def gradients(x, w, gamma, beta, mean, variance, bias, geometry, settings, out, dout):
        """(dx, dw, dgamma, dbeta, dmean, dvariance), dbias, dresidual: dout through the ReLU where it is on."""
        invstd = 1.0 / ops.sqrt(variance + settings[0])
        scale = gamma * invstd
        g = ops.select(ops.logical_or(out > 0, settings[1] == 0), dout, ops.zeros_like(dout))
        dconv = g * scale.reshape(1, -1, 1, 1, 1)
        d_shift = g.sum(axis=channel_axes)
        # y = (conv + bias - mean) * scale + beta: d/dscale = sum g * conv + d_shift * (bias - mean)
        centre = -mean if bias is None else bias - mean
        d_scale = (g * forward(x, w, geometry)).sum(axis=channel_axes) + d_shift * centre
        moving = (ops.zeros_like(mean), ops.zeros_like(variance))
        firsts = (like_x(x, w, dconv, geometry), like_w(x, w, dconv, geometry), d_scale * invstd, d_shift) + moving
        return firsts, d_shift * scale, g

    def lasts(geometry, settings):
        return ops.zeros_like(geometry), ops.zeros_like(settings)

    def bprop(x, w, gamma, beta, mean, variance, geometry, settings, out, dout):
        firsts, _, _ = gradients(x, w, gamma, beta, mean, variance, None, geometry, settings, out, dout)
        return firsts + lasts(geometry, settings)

    def bprop_bias(x, w, gamma, beta, mean, variance, bias, geometry, settings, out, dout):
        firsts, d_bias, _ = gradients(x, w, gamma, beta, mean, variance, bias, geometry, settings, out, dout)
        return firsts + (d_bias,) + lasts(geometry, settings)

    def bprop_residual(x, w, gamma, beta, mean, variance, residual, geometry, settings, out, dout):
        firsts, _, d_residual = gradients(x, w, gamma, beta, mean, variance, None, geometry, settings, out, dout)
        return firsts + (d_residual,) + lasts(geometry, settings)

    def bprop_bias_residual(x, w, gamma, beta, mean, variance, bias, residual, geometry, settings, out, dout):
        firsts, d_bias, d_residual = gradients(x, w, gamma, beta, mean, variance, bias, geometry, settings, out, dout)
        return firsts + (d_bias, d_residual) + lasts(geometry, settings)

    def infer_shape(x, w, *rest):
        return conv3d_output_shape(x, w, stride, padding)

    built = {}
    for has_bias, has_residual, gradient in ((False, False, bprop), (True, False, bprop_bias),
                                             (False, True, bprop_residual), (True, True, bprop_bias_residual)):
        op = ops.Custom(f"{library}:Conv3dBnForward", out_shape=infer_shape, out_dtype=_first, func_type="aot",
                        bprop=gradient)
        op.add_prim_attr("geometry", tuple(convolution_geometry(stride, padding)))  # see conv3d_ops
        # the ops differ by their inputs only: graph mode would give them all the gradient of the first one built
        op.add_prim_attr("bias", has_bias)
        op.add_prim_attr("residual", has_residual)
        built[has_bias, has_residual] = op
    return built


def _problem_arguments(src_shape, weight_shape, stride, padding):
    geometry = convolution_geometry(stride, parse_padding(padding))
    arrays = [np.ascontiguousarray(v, np.int64) for v in (src_shape, weight_shape, geometry)]
    return arrays, [a.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)) for a in arrays]


def conv3d_batch_part(pass_index, src_shape, weight_shape, stride, padding="same"):
    """The samples at a time our forward (pass 0) or backward-data (pass 1) convolution runs a problem in: fewer
    than the batch where oneDNN's scratchpad would be large (kernels/conv3d_onednn.cc, BatchPart)."""
    library = ctypes.CDLL(build_kernel(CONVOLUTION_SOURCE))
    library.Conv3dBatchPart.restype = ctypes.c_int64
    arrays, pointers = _problem_arguments(src_shape, weight_shape, stride, padding)
    part = library.Conv3dBatchPart(pass_index, *pointers)
    if part < 1:
        raise RuntimeError(f"oneDNN could not create the convolution {src_shape} * {weight_shape}")
    return part


def conv3d_implementation(pass_index, src_shape, weight_shape, stride, padding="same"):
    """The oneDNN implementation our convolution uses for a problem (for benchmarks and tests); `padding` as
    the layers take it."""
    library = ctypes.CDLL(build_kernel(CONVOLUTION_SOURCE))
    out = ctypes.create_string_buffer(256)
    arrays, pointers = _problem_arguments(src_shape, weight_shape, stride, padding)
    status = library.Conv3dImplementation(pass_index, *pointers, out, 256)
    if status != 0:
        raise RuntimeError(f"oneDNN could not create the convolution {src_shape} * {weight_shape} with stride "
                           f"{stride} and padding {padding!r} (status {status})")
    return out.value.decode()


def conv3d_own_allocations():
    """How many calls of the C++ convolution in this process found no workspace large enough and allocated their
    working memory themselves (0 while every op's Init asks MindSpore for enough; kernels/conv3d_onednn.cc)."""
    library = ctypes.CDLL(build_kernel(CONVOLUTION_SOURCE))  # the library MindSpore loaded: the same counter
    library.Conv3dOwnAllocations.restype = ctypes.c_int64
    return library.Conv3dOwnAllocations()


# ---------------------------------------------------------------------------------------------------------
# the training BatchNorm
# ---------------------------------------------------------------------------------------------------------

BATCH_NORM_SOURCE = "batch_norm_train.cc"


def _output_statistics_and_affine(x, gamma, *rest):
    return [x, gamma, gamma, [2 * gamma[0]]]


def _four_of_first(x, *rest):
    return [x, x, x, x]


def _gradients_of_x_gamma_beta(dy, x, gamma, *rest):
    return [x, gamma, gamma]


def _three_of_first(x, *rest):
    return [x, x, x]


def _gradients_and_g(dy, x, y, gamma, *rest):
    return [x, gamma, gamma, x]


def _one_value(*shapes):
    return [1]


def _in_place_op(library, function):
    """An aot Custom op that updates its parameter inputs in place and outputs float32[1] (an op needs an output).

    side_effect_mem: MindSpore then passes the parameters themselves, not a Load of them (a parameter loaded twice
    is copied at each Load), and orders the op after every reader of them, as it does for its ApplyMomentum."""
    op = ops.Custom(f"{library}:{function}", out_shape=_one_value, out_dtype=_first, func_type="aot")
    op.add_prim_attr("side_effect_mem", True)
    return op


@functools.lru_cache(maxsize=None)
def momentum_update_op():
    """kernels/momentum_update.cc as op(weight, moment, gradient, lr, momentum, decay) -> float32[1], which updates
    the parameters `weight` and `moment` in place (SGD with momentum and L2 weight decay, nn.Momentum's
    arithmetic), or None where the C++ kernels are unavailable."""
    if not kernels_enabled():
        return None
    library = kernel_library("momentum_update.cc", "SGD runs MindSpore's ApplyMomentum")
    return None if library is None else _in_place_op(library, "MomentumUpdate")


@functools.lru_cache(maxsize=None)
def batch_norm_train_ops():
    """The training BatchNorm ops (kernels/batch_norm_train.cc) as (without residual, with residual), or None where
    the C++ kernels are unavailable:
    op(x, gamma, beta, [residual,] settings) -> (y, batch mean, biased batch variance, affine), settings float32
    [eps, relu], y = relu?(gamma * (x - mean) / sqrt(var + eps) + beta [+ residual]) over N, C, ... (statistics over
    all axes but C), affine the per-channel scale and beta it applied (kept for the gradient).

    Their gradient (the backward kernel) is that of y with respect to x, gamma, beta [and residual]; the statistics
    get none: they are for the moving statistics, which take no gradient.

    A third op, update(moving_mean, moving_variance, mean, variance, settings) -> float32[1], settings float32
    [keep, momentum, M / (M - 1)], updates the moving statistics (parameters) in place (_in_place_op)."""
    if not kernels_enabled():
        return None
    library = kernel_library(BATCH_NORM_SOURCE, "training BatchNorms run MindSpore's BatchNorm, add and ReLU")
    if library is None:
        return None
    backward = ops.Custom(f"{library}:BatchNormTrainBackward", out_shape=_gradients_of_x_gamma_beta,
                          out_dtype=_three_of_first, func_type="aot")
    backward_residual = ops.Custom(f"{library}:BatchNormTrainBackward", out_shape=_gradients_and_g,
                                   out_dtype=_four_of_first, func_type="aot")
    backward_residual.add_prim_attr("residual", True)  # same kernel, another output list: keep them apart

    def bprop(x, gamma, beta, settings, out, dout):
        # no y here: the mask comes from x, and an input of the gradient is kept alive from the forward (attempt 14)
        _, mean, variance, affine = out
        dx, d_gamma, d_beta = backward(dout[0], x, gamma, mean, variance, affine, settings)
        return dx, d_gamma, d_beta, ops.zeros_like(settings)

    def bprop_residual(x, gamma, beta, residual, settings, out, dout):
        y, mean, variance, affine = out
        dx, d_gamma, d_beta, g = backward_residual(dout[0], x, y, gamma, mean, variance, affine, settings)
        return dx, d_gamma, d_beta, g, ops.zeros_like(settings)

    built = []
    for residual, gradient in ((False, bprop), (True, bprop_residual)):
        op = ops.Custom(f"{library}:BatchNormTrainForward", out_shape=_output_statistics_and_affine,
                        out_dtype=_four_of_first, func_type="aot", bprop=gradient)
        op.add_prim_attr("residual", residual)  # as conv3d_bn_ops: the two differ by their inputs only
        built.append(op)
    return (*built, _in_place_op(library, "MovingStatisticsUpdate"))
