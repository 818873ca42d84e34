// 3-D convolution with TensorFlow SAME or explicit padding for MindSpore's CPU backend ("aot" Custom ops):
// forward, gradient of the input, gradient of the weights. Each calls the oneDNN library that MindSpore itself
// loads (mindspore/lib/libdnnl.so.3), through its C API.
//
// Why it exists (benchmarks/NOTES.md): MindSpore 2.10 hands oneDNN its weights in the plain OIDHW layout.
// On an AVX-512 CPU oneDNN 3.10 then wraps the convolution (`jit_uni_ncsp`) around an inner one that keeps
// those plain weights, which no optimised kernel accepts: the reference kernel runs, ~100x slower. Capping
// oneDNN at AVX2 avoids that but leaves half the vector width unused. Here the weights are given to oneDNN
// as "any", so it picks its blocked layout and its AVX-512 brgemm kernels; the weights are reordered into
// that layout on every call (they change at every training step), activations stay NCDHW.
// Their working memory (scratchpad, reordered weights) is the op's workspace, from MindSpore's memory pool: see
// Workspace below and mindspore_aot.h.
//
// Inputs and outputs (all float32 except `geometry`, int64[9]: stride (d, h, w), pad before (d, h, w), pad
// after (d, h, w), where a pad of -1 before and after means TensorFlow SAME along that axis):
//   Conv3dForward:         x (N,C,D,H,W), w (O,C,KD,KH,KW), geometry  -> y (N,O,OD,OH,OW)
//   Conv3dBackwardData:    x, w, dy, geometry                          -> dx, shaped like x (x: shape only)
//   Conv3dBackwardWeights: x, w, dy, geometry                          -> dw, shaped like w (w: shape only)
//   Conv3dBnForward:       x, w, gamma (O), beta (O), moving mean (O), moving variance (O), [bias (O)],
//                          [residual (like y)], geometry, settings (float32[>= 2]: eps, relu, ...) -> y
//     y = [relu](conv(x, w) * scale + shift [+ residual]) per output channel: a convolution [with bias], its
//     BatchNorm on moving statistics (scale = gamma / sqrt(var + eps), shift = beta - mean * scale [+ bias * scale],
//     computed here: as graph operators, with the casts around the call, they cost the compiled graph ~0.4 MB
//     per convolution, NOTES.md attempt 15), a ResNet block's residual add and ReLU, as the forward convolution
//     and one pass over its output (the gradient: cpu_kernels.py). bias and residual are told apart by rank (1, 5).
//     Not fused into oneDNN's kernel as post-ops: measured slower and larger (benchmarks/NOTES.md, attempt 10).
// OD = floor((D + pad before + pad after - KD) / stride) + 1 (ceil(D / stride) for SAME), and so on.
// Return codes: 0 success, 1 bad arguments, 2 a oneDNN call failed (its status is printed to stderr).
#include <dnnl.h>
#include <dnnl_threadpool.h>
#include <oneapi/dnnl/dnnl_threadpool_iface.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "kernel_common.h"
#include "mindspore_aot.h"

namespace {

// kInference: the forward of Conv3dBnForward, created for inference (oneDNN may pick another kernel for it).
enum Pass { kForward = 0, kBackwardData = 1, kBackwardWeights = 2, kInference = 3 };

struct OnednnError {
  dnnl_status_t status;
  const char *call;
};

void Check(dnnl_status_t status, const char *call) {
  if (status != dnnl_success) throw OnednnError{status, call};
}
#define CHECK_DNNL(call) Check((call), #call)

// oneDNN's threadpool runtime (the one MindSpore builds) runs a primitive's parallel loops through this
// interface. Work item i of n goes to thread i % threads; the calling thread takes part.
class Threadpool : public dnnl::threadpool_interop::threadpool_iface {
 public:
  explicit Threadpool(int threads) : threads_(threads) {}
  int get_num_threads() const override { return threads_; }
  bool get_in_parallel() const override { return in_parallel_; }
  uint64_t get_flags() const override { return 0; }
  void wait() override {}
  void parallel_for(int n, const std::function<void(int, int)> &fn) override {
    const int workers = std::min(threads_, n);
    auto run = [&](int first) {
      in_parallel_ = true;
      for (int i = first; i < n; i += workers) fn(i, n);
      in_parallel_ = false;
    };
    i3d::RunOnThreads(workers, run);
  }

 private:
  int threads_;
  static thread_local bool in_parallel_;
};
thread_local bool Threadpool::in_parallel_ = false;

using Dims5 = std::array<int64_t, 5>;

struct Problem {
  Pass pass;
  Dims5 src, wei, dst;
  std::array<int64_t, 3> stride, pad_before, pad_after;
  bool operator<(const Problem &o) const {
    return std::tie(pass, src, wei, dst, stride, pad_before, pad_after) <
           std::tie(o.pass, o.src, o.wei, o.dst, o.stride, o.pad_before, o.pad_after);
  }
};

// The convolution of input `src` (N,C,D,H,W) by weights `wei` (O,C,KD,KH,KW) with `geometry` (see the top).
Problem MakeProblem(Pass pass, const int64_t *src, const int64_t *wei, const int64_t *geometry) {
  Problem p{};
  p.pass = pass;
  std::copy(src, src + 5, p.src.begin());
  std::copy(wei, wei + 5, p.wei.begin());
  p.dst = {src[0], wei[0], 0, 0, 0};
  for (int a = 0; a < 3; ++a) {
    p.stride[a] = geometry[a];
    if (p.stride[a] < 1) continue;  // refused by Valid
    i3d::AxisPadding(src[2 + a], wei[2 + a], geometry[a], geometry[3 + a], geometry[6 + a], &p.pad_before[a],
                     &p.pad_after[a]);
    p.dst[2 + a] = i3d::OutputSize(src[2 + a], wei[2 + a], p.stride[a], p.pad_before[a], p.pad_after[a]);
  }
  return p;
}

// Strides of at least 1, pads of at least 0, an output of at least one element per axis.
bool Valid(const Problem &p) {
  for (int a = 0; a < 3; ++a) {
    if (p.stride[a] < 1 || p.pad_before[a] < 0 || p.pad_after[a] < 0 || p.dst[2 + a] < 1) return false;
  }
  return true;
}

dnnl_memory_desc_t PlainDesc(const Dims5 &dims, dnnl_format_tag_t tag) {
  dnnl_memory_desc_t md;
  dnnl_dims_t d = {dims[0], dims[1], dims[2], dims[3], dims[4]};
  CHECK_DNNL(dnnl_memory_desc_create_with_tag(&md, 5, d, dnnl_f32, tag));
  return md;
}

// One primitive, created once per problem (oneDNN generates its kernel code at creation) and reused by
// every call; executions supply their own scratchpad, so concurrent calls are safe.
struct Compiled {
  dnnl_engine_t engine = nullptr;
  dnnl_primitive_t conv = nullptr;
  dnnl_memory_desc_t plain_weights = nullptr;   // OIDHW, MindSpore's layout
  const_dnnl_memory_desc_t weights = nullptr;   // the layout the convolution chose (owned by conv_pd)
  dnnl_primitive_desc_t conv_pd = nullptr;
  dnnl_primitive_t weights_reorder = nullptr;   // plain -> chosen (forward, backward data) or back
  size_t scratchpad_bytes = 0;
  size_t weights_bytes = 0;
  // Backward weights only: oneDNN's NCDHW wrapper does not cover this pass, and the AVX-512 kernels want
  // blocked activations, so src and diff_dst are reordered into the layouts the convolution chose.
  dnnl_memory_desc_t plain_src = nullptr, plain_dst = nullptr;
  dnnl_primitive_t src_reorder = nullptr, dst_reorder = nullptr;
  size_t src_bytes = 0, dst_bytes = 0;
  // ... and the problem computed may be smaller or padded (CompileBackwardWeights): `padded_src` the copy of src
  // holds the padding (zeroed, then src reordered into `src_view`), `trimmed` the gradient of the computed taps is
  // reordered into their place in the plain weights (`weights_view`), the others zeroed.
  bool padded_src = false, trimmed = false;
  dnnl_memory_desc_t src_view = nullptr, weights_view = nullptr;
};

// A reorder from `from` to `to`, or nullptr when the two layouts are the same.
dnnl_primitive_t MaybeReorder(dnnl_engine_t engine, const_dnnl_memory_desc_t from, const_dnnl_memory_desc_t to) {
  if (dnnl_memory_desc_equal(from, to)) return nullptr;
  dnnl_primitive_desc_t pd;
  CHECK_DNNL(dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, nullptr));
  dnnl_primitive_t reorder;
  CHECK_DNNL(dnnl_primitive_create(&reorder, pd));
  dnnl_primitive_desc_destroy(pd);
  return reorder;
}

dnnl_primitive_desc_t ForwardHint(dnnl_engine_t engine, const Problem &p, dnnl_memory_desc_t src,
                                  dnnl_memory_desc_t any_weights, dnnl_memory_desc_t dst,
                                  const_dnnl_primitive_attr_t attr) {
  const dnnl_prop_kind_t prop = p.pass == kInference ? dnnl_forward_inference : dnnl_forward_training;
  dnnl_dims_t stride = {p.stride[0], p.stride[1], p.stride[2]}, dilation = {0, 0, 0};
  dnnl_dims_t before = {p.pad_before[0], p.pad_before[1], p.pad_before[2]};
  dnnl_dims_t after = {p.pad_after[0], p.pad_after[1], p.pad_after[2]};
  dnnl_primitive_desc_t pd;
  CHECK_DNNL(dnnl_convolution_forward_primitive_desc_create(&pd, engine, prop,
                                                            dnnl_convolution_direct, src, any_weights, nullptr, dst,
                                                            stride, dilation, before, after, attr));
  return pd;
}

// The taps [first, last] of a kernel axis that meet the input at some output position (tap k of output o reads
// input o * stride - pad_before + k). The others only ever read padding: their weight gradient is zero.
struct Taps {
  int64_t first, last;
};
Taps UsedTaps(const Problem &p, int a) {
  const int64_t size = p.src[2 + a], kernel = p.wei[2 + a], before = p.pad_before[a];
  return {std::max<int64_t>(0, before - (p.dst[2 + a] - 1) * p.stride[a]),
          std::min<int64_t>(kernel - 1, size - 1 + before)};
}

// Where the padding of a backward-weights problem goes: oneDNN's pads, or zeros in the copy of src.
enum class CopiedPadding { kNone, kDepth, kAll };

// The backward-weights problem computed for `p`: only the taps that meet the input (UsedTaps; the output is the
// same), and with `copied` the padding of those axes written into a larger src, the convolution's pads then 0.
Problem BackwardWeightsVariant(const Problem &p, CopiedPadding copied) {
  Problem q = p;
  for (int a = 0; a < 3; ++a) {
    const Taps used = UsedTaps(p, a);
    q.wei[2 + a] = used.last - used.first + 1;
    q.pad_before[a] = p.pad_before[a] - used.first;
    q.pad_after[a] = p.pad_after[a] - (p.wei[2 + a] - 1 - used.last);
    if (copied == CopiedPadding::kAll || (copied == CopiedPadding::kDepth && a == 0)) {
      q.src[2 + a] += q.pad_before[a] + q.pad_after[a];
      q.pad_before[a] = q.pad_after[a] = 0;
    }
  }
  return q;
}

// oneDNN's backward-weights primitive for `q`, activations and weights in the layouts it prefers.
dnnl_primitive_desc_t BackwardWeightsPd(dnnl_engine_t engine, const Problem &q, const_dnnl_primitive_attr_t attr) {
  dnnl_memory_desc_t src = PlainDesc(q.src, dnnl_ncdhw), dst = PlainDesc(q.dst, dnnl_ncdhw);
  dnnl_memory_desc_t any_src = PlainDesc(q.src, dnnl_format_tag_any), any_dst = PlainDesc(q.dst, dnnl_format_tag_any);
  dnnl_memory_desc_t any_weights = PlainDesc(q.wei, dnnl_format_tag_any);
  dnnl_dims_t stride = {q.stride[0], q.stride[1], q.stride[2]}, dilation = {0, 0, 0};
  dnnl_dims_t before = {q.pad_before[0], q.pad_before[1], q.pad_before[2]};
  dnnl_dims_t after = {q.pad_after[0], q.pad_after[1], q.pad_after[2]};
  dnnl_primitive_desc_t hint = ForwardHint(engine, q, src, any_weights, dst, nullptr), pd;
  CHECK_DNNL(dnnl_convolution_backward_weights_primitive_desc_create(
      &pd, engine, dnnl_convolution_direct, any_src, any_weights, nullptr, any_dst, stride, dilation, before, after,
      hint, attr));
  dnnl_primitive_desc_destroy(hint);
  for (auto md : {src, dst, any_src, any_dst, any_weights}) dnnl_memory_desc_destroy(md);
  return pd;
}

bool DirectKernel(const_dnnl_primitive_desc_t pd) {
  const char *name = nullptr;
  CHECK_DNNL(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
  return std::string(name).rfind("jit:", 0) == 0;  // not "x64:gemm:jit" (im2col + GEMM), not "ref:any"
}

// The backward-weights pass. oneDNN's direct AVX-512 kernel refuses problems whose kernel is longer than the input
// along an axis (the depth 1-2 of a 3D-ResNet's layer3-4, P3D's temporal convolutions) and falls back to im2col +
// GEMM over every tap, padding included: 40 ms for a 3x3x3 512-channel convolution at 1x4x4 and batch 8 (45
// GFLOP/s, benchmarks/NOTES.md attempt 12). The taps that only read padding are dropped (exact: their gradient is
// 0), which alone suffices at depth 1; where the kernel still refuses, the padding is written into the copy of src
// the pass makes anyway (depth first, then every axis). The first variant that gets the direct kernel is kept,
// else the first.
void CompileBackwardWeights(const Problem &p, const_dnnl_primitive_attr_t attr, Compiled *c) {
  Problem q = BackwardWeightsVariant(p, CopiedPadding::kNone);
  c->conv_pd = BackwardWeightsPd(c->engine, q, attr);
  for (CopiedPadding copied : {CopiedPadding::kDepth, CopiedPadding::kAll}) {
    if (DirectKernel(c->conv_pd)) break;
    const Problem padded = BackwardWeightsVariant(p, copied);
    dnnl_primitive_desc_t pd = BackwardWeightsPd(c->engine, padded, attr);
    if (DirectKernel(pd)) {
      dnnl_primitive_desc_destroy(c->conv_pd);
      c->conv_pd = pd;
      q = padded;
    } else {
      dnnl_primitive_desc_destroy(pd);
    }
  }
  c->trimmed = q.wei != p.wei;
  c->padded_src = q.src != p.src;
  if (c->trimmed) {  // the computed taps within the plain weights
    dnnl_dims_t taps = {q.wei[0], q.wei[1], q.wei[2], q.wei[3], q.wei[4]};
    dnnl_dims_t first = {0, 0, UsedTaps(p, 0).first, UsedTaps(p, 1).first, UsedTaps(p, 2).first};
    CHECK_DNNL(dnnl_memory_desc_create_submemory(&c->weights_view, c->plain_weights, taps, first));
  }
  c->plain_src = PlainDesc(p.src, dnnl_ncdhw);
  c->plain_dst = PlainDesc(p.dst, dnnl_ncdhw);
  const_dnnl_memory_desc_t src_md = dnnl_primitive_desc_query_md(c->conv_pd, dnnl_query_src_md, 0);
  const_dnnl_memory_desc_t dst_md = dnnl_primitive_desc_query_md(c->conv_pd, dnnl_query_diff_dst_md, 0);
  if (c->padded_src) {  // src sits in the copy after the trimmed problem's padding before it
    const Problem trimmed = BackwardWeightsVariant(p, CopiedPadding::kNone);
    dnnl_dims_t dims = {p.src[0], p.src[1], p.src[2], p.src[3], p.src[4]}, offsets = {0, 0, 0, 0, 0};
    for (int a = 0; a < 3; ++a) offsets[2 + a] = q.src[2 + a] != p.src[2 + a] ? trimmed.pad_before[a] : 0;
    CHECK_DNNL(dnnl_memory_desc_create_submemory(&c->src_view, src_md, dims, offsets));
  }
  c->src_reorder = MaybeReorder(c->engine, c->plain_src, c->padded_src ? c->src_view : src_md);
  c->dst_reorder = MaybeReorder(c->engine, c->plain_dst, dst_md);
  c->src_bytes = c->src_reorder ? dnnl_memory_desc_get_size(src_md) : 0;
  c->dst_bytes = c->dst_reorder ? dnnl_memory_desc_get_size(dst_md) : 0;
}

std::unique_ptr<Compiled> Compile(const Problem &p) {
  auto c = std::make_unique<Compiled>();
  CHECK_DNNL(dnnl_engine_create(&c->engine, dnnl_cpu, 0));
  dnnl_primitive_attr_t attr;
  CHECK_DNNL(dnnl_primitive_attr_create(&attr));
  CHECK_DNNL(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  dnnl_memory_desc_t src = PlainDesc(p.src, dnnl_ncdhw), dst = PlainDesc(p.dst, dnnl_ncdhw);
  dnnl_memory_desc_t any_weights = PlainDesc(p.wei, dnnl_format_tag_any);
  c->plain_weights = PlainDesc(p.wei, dnnl_oidhw);
  dnnl_dims_t stride = {p.stride[0], p.stride[1], p.stride[2]}, dilation = {0, 0, 0};
  dnnl_dims_t before = {p.pad_before[0], p.pad_before[1], p.pad_before[2]};
  dnnl_dims_t after = {p.pad_after[0], p.pad_after[1], p.pad_after[2]};
  if (p.pass == kForward || p.pass == kInference) {
    c->conv_pd = ForwardHint(c->engine, p, src, any_weights, dst, attr);
  } else if (p.pass == kBackwardData) {
    dnnl_primitive_desc_t hint = ForwardHint(c->engine, p, src, any_weights, dst, nullptr);
    CHECK_DNNL(dnnl_convolution_backward_data_primitive_desc_create(
        &c->conv_pd, c->engine, dnnl_convolution_direct, src, any_weights, dst, stride, dilation, before, after,
        hint, attr));
    dnnl_primitive_desc_destroy(hint);
  } else {
    CompileBackwardWeights(p, attr, c.get());
  }
  CHECK_DNNL(dnnl_primitive_create(&c->conv, c->conv_pd));
  c->weights = dnnl_primitive_desc_query_md(
      c->conv_pd, p.pass == kBackwardWeights ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
  c->weights_bytes = dnnl_memory_desc_get_size(c->weights);
  c->scratchpad_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(c->conv_pd, dnnl_query_scratchpad_md, 0));
  c->weights_reorder = p.pass == kBackwardWeights
                           ? MaybeReorder(c->engine, c->weights, c->trimmed ? c->weights_view : c->plain_weights)
                           : MaybeReorder(c->engine, c->plain_weights, c->weights);
  dnnl_memory_desc_destroy(src);
  dnnl_memory_desc_destroy(dst);
  dnnl_memory_desc_destroy(any_weights);
  dnnl_primitive_attr_destroy(attr);
  return c;
}

const Compiled &Lookup(const Problem &p) {
  static std::mutex mutex;
  static std::map<Problem, std::unique_ptr<Compiled>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto &entry = cache[p];
  if (!entry) entry = Compile(p);
  return *entry;
}

// oneDNN's NCDHW wrapper keeps channels-last copies of the whole input and output in its scratchpad: at a 3D-ResNet
// stem at batch 8 that is 122 MB on top of the tensors themselves, the forward pass's peak (benchmarks/NOTES.md).
// Above this size the forward and backward-data passes run a batch at a time in equal parts (the weights
// reordered once): the scratchpad shrinks with the part. The backward-weights pass sums over the batch, and stays.
constexpr size_t kScratchpadChunkBytes = size_t{32} << 20;

// The samples per part: the largest divisor of the batch whose share of the scratchpad fits kScratchpadChunkBytes
// (1 if none); the whole batch when it fits.
int64_t BatchPart(int64_t batch, size_t scratchpad_bytes) {
  if (scratchpad_bytes <= kScratchpadChunkBytes) return batch;
  for (int64_t part = batch - 1; part > 1; --part) {
    if (batch % part == 0 && scratchpad_bytes / batch * part <= kScratchpadChunkBytes) return part;
  }
  return 1;
}

// The primitive a call runs: the whole problem's, or that of a part of its batch (BatchPart), and the part.
struct Plan {
  const Compiled *compiled;
  int64_t part;
};
Plan PlanCall(const Problem &p) {
  const Compiled &whole = Lookup(p);
  const int64_t batch = p.src[0];
  const int64_t part = p.pass == kBackwardWeights ? batch : BatchPart(batch, whole.scratchpad_bytes);
  if (part == batch) return {&whole, part};
  Problem part_problem = p;
  part_problem.src[0] = part_problem.dst[0] = part;
  return {&Lookup(part_problem), part};
}

// The working memory of a call, one block: oneDNN's scratchpad, the reordered weights and, for the backward-weights
// pass, the reordered activations, at these offsets.
constexpr size_t kAlignment = 64;
struct WorkingMemory {
  size_t scratchpad = 0, weights = 0, src = 0, dst = 0, bytes = 0;
};
WorkingMemory LayOut(const Compiled &c) {
  WorkingMemory m;
  auto place = [&m](size_t size) {
    const size_t at = m.bytes;
    m.bytes += (size + kAlignment - 1) / kAlignment * kAlignment;
    return at;
  };
  m.scratchpad = place(c.scratchpad_bytes);
  m.weights = place(c.weights_reorder ? c.weights_bytes : 0);
  m.src = place(c.src_bytes);
  m.dst = place(c.dst_bytes);
  return m;
}

// The working memory comes from MindSpore's memory pool: each op's Init function (below) asks for it as the op's
// workspace, which MindSpore allocates around the call from the memory the activations use and reuse. Allocated by
// the kernel instead, it sat beside that pool at the peak: blocks kept for reuse held up to 160 MB more at a forward's
// peak, and mapping them afresh at each call cost +10-14 % of the time in page faults (benchmarks/NOTES.md, attempts
// 11, 17 and 18). `bytes`: the size asked for (0: none; the call then allocates its own).
struct Workspace : mindspore::AotKernelData {
  size_t bytes = 0;
};

// Calls that found no workspace large enough and allocated their working memory themselves: none once Init has
// run, which tests check (Conv3dOwnAllocations below).
std::atomic<int64_t> own_allocations{0};

// A call's working memory: in the workspace when it fits there (aligned), else allocated for the call.
class WorkingBlock {
 public:
  WorkingBlock(void *workspace, size_t workspace_bytes, size_t bytes) {
    if (bytes == 0) return;
    if (workspace && bytes + kAlignment <= workspace_bytes) {
      const auto address = reinterpret_cast<uintptr_t>(workspace);
      data_ = reinterpret_cast<char *>((address + kAlignment - 1) / kAlignment * kAlignment);
      return;
    }
    owned_ = static_cast<char *>(std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment));
    if (!owned_) throw std::bad_alloc();
    ++own_allocations;
    data_ = owned_;
  }
  ~WorkingBlock() { std::free(owned_); }
  WorkingBlock(const WorkingBlock &) = delete;
  WorkingBlock &operator=(const WorkingBlock &) = delete;
  void *At(size_t offset) const { return data_ ? data_ + offset : nullptr; }

 private:
  char *data_ = nullptr, *owned_ = nullptr;
};

struct Memory {
  Memory(const_dnnl_memory_desc_t md, dnnl_engine_t engine, void *data) {
    CHECK_DNNL(dnnl_memory_create(&handle, md, engine, data));
  }
  ~Memory() { dnnl_memory_destroy(handle); }
  dnnl_memory_t handle = nullptr;
};

void ZeroInParallel(void *data, size_t floats) {
  auto *f = static_cast<float *>(data);
  i3d::ParallelRanges(static_cast<int64_t>(floats), [=](int64_t begin, int64_t end) {
    std::memset(f + begin, 0, static_cast<size_t>(end - begin) * sizeof(float));
  }, 1);
}

void Execute(dnnl_primitive_t primitive, dnnl_stream_t stream, std::vector<dnnl_exec_arg_t> args) {
  CHECK_DNNL(dnnl_primitive_execute(primitive, stream, static_cast<int>(args.size()), args.data()));
}

// The output pass of Conv3dBnForward over one (n, o) plane; restrict and values (no captured references that the
// stores could alias) let the compiler vectorise it.
template <bool kAdd, bool kRelu>
void AffinePlane(float *__restrict out, const float *__restrict add, int64_t size, float scale, float shift) {
  for (int64_t j = 0; j < size; ++j) {
    float v = out[j] * scale + shift;
    if (kAdd) v += add[j];
    out[j] = kRelu ? std::max(v, 0.f) : v;
  }
}

// y = [relu](y * scale[o] + shift[o] [+ residual]) in place, y and residual N,O,D,H,W.
void ScaleShiftAddRelu(const Dims5 &dims, float *y, const float *scale, const float *shift, const float *residual,
                       bool relu) {
  const int64_t channels = dims[1], planes = dims[0] * dims[1], plane = dims[2] * dims[3] * dims[4];
  auto pass = residual ? (relu ? AffinePlane<true, true> : AffinePlane<true, false>)
                       : (relu ? AffinePlane<false, true> : AffinePlane<false, false>);
  i3d::ParallelRanges(planes, [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      pass(y + i * plane, residual ? residual + i * plane : nullptr, plane, scale[i % channels], shift[i % channels]);
  }, plane);
}

// Conv3dBnForward's arguments: x, w, gamma, beta, mean, variance, [bias], [residual], geometry, settings, y.
struct BnArguments {
  int geometry_index = -1, bias_index = -1, residual_index = -1;
};

// Where Conv3dBnForward's optional arguments are; geometry_index -1 when the arguments do not fit.
BnArguments BnForwardCheck(int nparam, int *ndims, int64_t **shapes, const char **dtypes) {
  BnArguments a;
  if (nparam < 9 || nparam > 11) return a;
  const int geometry_index = nparam - 3, settings_index = nparam - 2;
  for (int i = 6; i < geometry_index; ++i) {
    if (ndims[i] == 1 && a.bias_index < 0 && a.residual_index < 0) {
      a.bias_index = i;
    } else if (ndims[i] == 5 && a.residual_index < 0) {
      a.residual_index = i;
    } else {
      return a;
    }
  }
  const int64_t channels = shapes[nparam - 1][1];  // y's
  for (int i = 0; i < nparam; ++i) {
    const bool is_geometry = i == geometry_index;
    const bool is_vector = (i >= 2 && i <= 5) || i == a.bias_index || i == settings_index;
    if (ndims[i] != (is_geometry || is_vector ? 1 : 5)) return a;
    if (std::string(dtypes[i]) != (is_geometry ? "int64" : "float32")) return a;
    if (is_vector && i != settings_index && shapes[i][0] != channels) return a;
  }
  // settings: the BatchNorm's (eps, relu, ...)
  if (shapes[geometry_index][0] != 9 || shapes[settings_index][0] < 2) return a;
  const int r = a.residual_index;
  if (r >= 0 && !std::equal(shapes[r], shapes[r] + 5, shapes[nparam - 1])) return a;
  a.geometry_index = geometry_index;
  return a;
}

// The BatchNorm's per-channel scale and shift, in float as MindSpore's Sqrt, Div, Mul and Sub computed them.
void InferenceAffine(int64_t channels, void **params, const BnArguments &a, float eps, std::vector<float> *scale,
                     std::vector<float> *shift) {
  const auto *gamma = static_cast<const float *>(params[2]), *beta = static_cast<const float *>(params[3]);
  const auto *mean = static_cast<const float *>(params[4]), *variance = static_cast<const float *>(params[5]);
  const auto *bias = a.bias_index >= 0 ? static_cast<const float *>(params[a.bias_index]) : nullptr;
  scale->resize(channels);
  shift->resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const float s = gamma[c] / std::sqrt(variance[c] + eps);
    const float moved = mean[c] * s;
    float t = beta[c] - moved;
    if (bias) {
      const float biased = bias[c] * s;
      t = t + biased;
    }
    (*scale)[c] = s;
    (*shift)[c] = t;
  }
}

// x, w, dy/y, result pointers by pass (kInference: Conv3dBnForward's); shapes as MindSpore passes them, then the
// workspace when Init asked for one (`extra` is MindSpore's AotExtra).
int Run(Pass pass, int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *extra) {
  const auto *asked = extra ? static_cast<const Workspace *>(static_cast<mindspore::AotExtra *>(extra)->KernelData())
                            : nullptr;
  const size_t workspace_bytes = asked ? asked->bytes : 0;
  void *workspace = workspace_bytes ? params[--nparam] : nullptr;  // after the outputs, which it does not count
  const bool bn_forward = pass == kInference;
  int geometry_index;
  BnArguments bn_arguments;
  if (bn_forward) {
    bn_arguments = BnForwardCheck(nparam, ndims, shapes, dtypes);
    geometry_index = bn_arguments.geometry_index;
    if (geometry_index < 0) return 1;
  } else {
    if (nparam != (pass == kForward ? 4 : 5)) return 1;
    geometry_index = pass == kForward ? 2 : 3;
    for (int i = 0; i < nparam; ++i) {
      const bool is_geometry = i == geometry_index;
      if (is_geometry ? ndims[i] != 1 || shapes[i][0] != 9 : ndims[i] != 5) return 1;
      if (std::string(dtypes[i]) != (is_geometry ? "int64" : "float32")) return 1;
    }
  }
  const bool forward = pass == kForward || pass == kInference;
  const int y_index = nparam - 1;  // the forward's output
  const int64_t *geometry = static_cast<const int64_t *>(params[geometry_index]);
  const Problem p = MakeProblem(pass, shapes[0], shapes[1], geometry);
  const int64_t *given_dst = shapes[forward ? y_index : 2];  // y, or dy for the gradients
  if (!Valid(p) || !std::equal(p.dst.begin(), p.dst.end(), given_dst)) {
    // Say what did not fit: a bare return code 1 is all MindSpore reports.
    std::fprintf(stderr, "conv3d_onednn pass %d: x [%ld %ld %ld %ld %ld] w [%ld %ld %ld %ld %ld] geometry [",
                 static_cast<int>(pass), (long)shapes[0][0], (long)shapes[0][1], (long)shapes[0][2],
                 (long)shapes[0][3], (long)shapes[0][4], (long)shapes[1][0], (long)shapes[1][1], (long)shapes[1][2],
                 (long)shapes[1][3], (long)shapes[1][4]);
    for (int i = 0; i < 9; ++i) std::fprintf(stderr, "%ld%s", (long)geometry[i], i < 8 ? " " : "");
    std::fprintf(stderr, "] -> computed [%ld %ld %ld %ld %ld], given [%ld %ld %ld %ld %ld]\n", (long)p.dst[0],
                 (long)p.dst[1], (long)p.dst[2], (long)p.dst[3], (long)p.dst[4], (long)given_dst[0], (long)given_dst[1],
                 (long)given_dst[2], (long)given_dst[3], (long)given_dst[4]);
    return 1;
  }
  try {
    const Plan plan = PlanCall(p);
    const Compiled &c = *plan.compiled;
    const int64_t batch = p.src[0], part = plan.part;
    const WorkingMemory layout = LayOut(c);
    const WorkingBlock working(workspace, workspace_bytes, layout.bytes);
    // floats of one part of the input and of the output (NCDHW: samples are contiguous)
    const int64_t src_part = part * p.src[1] * p.src[2] * p.src[3] * p.src[4];
    const int64_t dst_part = part * p.dst[1] * p.dst[2] * p.dst[3] * p.dst[4];
    Threadpool pool(i3d::UsableCpus());
    dnnl_stream_t stream;
    CHECK_DNNL(dnnl_threadpool_interop_stream_create(&stream, c.engine, &pool));
    std::unique_ptr<dnnl_stream, decltype(&dnnl_stream_destroy)> stream_owner(stream, dnnl_stream_destroy);
    Memory scratchpad(dnnl_primitive_desc_query_md(c.conv_pd, dnnl_query_scratchpad_md, 0), c.engine,
                      working.At(layout.scratchpad));
    const_dnnl_memory_desc_t src_md = dnnl_primitive_desc_query_md(
        c.conv_pd, pass == kBackwardData ? dnnl_query_diff_src_md : dnnl_query_src_md, 0);
    const_dnnl_memory_desc_t dst_md = dnnl_primitive_desc_query_md(
        c.conv_pd, forward ? dnnl_query_dst_md : dnnl_query_diff_dst_md, 0);
    void *user_weights = pass == kBackwardWeights ? params[4] : params[1];
    Memory plain_weights(c.plain_weights, c.engine, user_weights);
    Memory weights(c.weights, c.engine, c.weights_reorder ? working.At(layout.weights) : user_weights);
    if (forward || pass == kBackwardData) {
      if (c.weights_reorder)
        Execute(c.weights_reorder, stream, {{DNNL_ARG_FROM, plain_weights.handle}, {DNNL_ARG_TO, weights.handle}});
      // forward: x -> y; backward data: dy -> dx
      auto *src_data = static_cast<float *>(params[forward ? 0 : 4]);
      auto *dst_data = static_cast<float *>(params[forward ? y_index : 2]);
      const int src_arg = forward ? DNNL_ARG_SRC : DNNL_ARG_DIFF_SRC;
      const int dst_arg = forward ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST;
      for (int64_t k = 0; k < batch / part; ++k) {
        Memory src(src_md, c.engine, src_data + k * src_part), dst(dst_md, c.engine, dst_data + k * dst_part);
        Execute(c.conv, stream, {{src_arg, src.handle}, {DNNL_ARG_WEIGHTS, weights.handle},
                                 {dst_arg, dst.handle}, {DNNL_ARG_SCRATCHPAD, scratchpad.handle}});
        CHECK_DNNL(dnnl_stream_wait(stream));  // the scratchpad is reused by the next part
      }
    } else {
      void *src_copy = working.At(layout.src), *dst_copy = working.At(layout.dst);
      Memory plain_src(c.plain_src, c.engine, params[0]), plain_dst(c.plain_dst, c.engine, params[2]);
      Memory src(src_md, c.engine, c.src_reorder ? src_copy : params[0]);
      Memory diff_dst(dst_md, c.engine, c.dst_reorder ? dst_copy : params[2]);
      if (c.padded_src) {  // zeros, then src within them
        std::memset(src_copy, 0, c.src_bytes);
        Memory view(c.src_view, c.engine, src_copy);
        Execute(c.src_reorder, stream, {{DNNL_ARG_FROM, plain_src.handle}, {DNNL_ARG_TO, view.handle}});
      } else if (c.src_reorder) {
        Execute(c.src_reorder, stream, {{DNNL_ARG_FROM, plain_src.handle}, {DNNL_ARG_TO, src.handle}});
      }
      if (c.dst_reorder)
        Execute(c.dst_reorder, stream, {{DNNL_ARG_FROM, plain_dst.handle}, {DNNL_ARG_TO, diff_dst.handle}});
      Execute(c.conv, stream, {{DNNL_ARG_SRC, src.handle}, {DNNL_ARG_DIFF_DST, diff_dst.handle},
                               {DNNL_ARG_DIFF_WEIGHTS, weights.handle}, {DNNL_ARG_SCRATCHPAD, scratchpad.handle}});
      if (c.trimmed) {  // the taps left out get 0, the computed ones their place
        CHECK_DNNL(dnnl_stream_wait(stream));
        ZeroInParallel(user_weights, static_cast<size_t>(p.wei[0] * p.wei[1] * p.wei[2] * p.wei[3] * p.wei[4]));
        Memory view(c.weights_view, c.engine, user_weights);
        Execute(c.weights_reorder, stream, {{DNNL_ARG_FROM, weights.handle}, {DNNL_ARG_TO, view.handle}});
      } else if (c.weights_reorder) {
        Execute(c.weights_reorder, stream, {{DNNL_ARG_FROM, weights.handle}, {DNNL_ARG_TO, plain_weights.handle}});
      }
    }
    CHECK_DNNL(dnnl_stream_wait(stream));
    if (bn_forward) {
      const auto *settings = static_cast<const float *>(params[nparam - 2]);
      std::vector<float> scale, shift;
      InferenceAffine(p.dst[1], params, bn_arguments, settings[0], &scale, &shift);
      const int r = bn_arguments.residual_index;
      ScaleShiftAddRelu(p.dst, static_cast<float *>(params[y_index]), scale.data(), shift.data(),
                        r >= 0 ? static_cast<const float *>(params[r]) : nullptr, settings[1] != 0.f);
    }
  } catch (const OnednnError &error) {
    std::fprintf(stderr, "conv3d_onednn: %s failed with oneDNN status %d\n", error.call,
                 static_cast<int>(error.status));
    return 2;
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "conv3d_onednn pass %d: out of memory for its working buffers\n", static_cast<int>(pass));
    return 2;
  }
  return 0;
}

// An op's Init function: the workspace of its calls (see Workspace), from the shapes of x and w and the op's
// "geometry" attribute (cpu_kernels.py sets it to the geometry input's value). Where they do not make a problem, or
// oneDNN cannot create it, none is asked for and Run says what is wrong.
size_t WorkspaceBytes(Pass pass, int *ndims, int64_t **shapes, mindspore::AotExtra *extra) {
  if (ndims[0] != 5 || ndims[1] != 5 || !extra->HasAttr("geometry")) return 0;
  const std::vector<int64_t> geometry = extra->IntsAttr("geometry");
  if (geometry.size() != 9) return 0;
  const Problem p = MakeProblem(pass, shapes[0], shapes[1], geometry.data());
  if (!Valid(p)) return 0;
  try {
    const size_t bytes = LayOut(*PlanCall(p).compiled).bytes;
    return bytes ? bytes + kAlignment : 0;  // room to align the block
  } catch (...) {  // oneDNN's error or out of memory: no workspace; the call reports it
    return 0;
  }
}

int Init(Pass pass, int *ndims, int64_t **shapes, mindspore::AotExtra *extra) {
  auto *asked = static_cast<Workspace *>(extra->KernelData());
  if (!asked) {
    asked = new Workspace;
    extra->SetKernelData(asked);
  }
  asked->bytes = WorkspaceBytes(pass, ndims, shapes, extra);
  // Set even when empty: an Init run again for new shapes must not leave an earlier workspace asked for.
  extra->SetWorkSpace(asked->bytes ? std::vector<size_t>{asked->bytes} : std::vector<size_t>{});
  return 0;
}

}  // namespace

extern "C" int Conv3dForwardInit(int *ndims, int64_t **shapes, const char **dtypes, mindspore::AotExtra *extra) {
  return Init(kForward, ndims, shapes, extra);
}

extern "C" int Conv3dBnForwardInit(int *ndims, int64_t **shapes, const char **dtypes, mindspore::AotExtra *extra) {
  return Init(kInference, ndims, shapes, extra);
}

extern "C" int Conv3dBackwardDataInit(int *ndims, int64_t **shapes, const char **dtypes,
                                      mindspore::AotExtra *extra) {
  return Init(kBackwardData, ndims, shapes, extra);
}

extern "C" int Conv3dBackwardWeightsInit(int *ndims, int64_t **shapes, const char **dtypes,
                                         mindspore::AotExtra *extra) {
  return Init(kBackwardWeights, ndims, shapes, extra);
}

extern "C" int Conv3dForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                             void *stream, void *extra) {
  return Run(kForward, nparam, params, ndims, shapes, dtypes, extra);
}

extern "C" int Conv3dBnForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                               void *stream, void *extra) {
  return Run(kInference, nparam, params, ndims, shapes, dtypes, extra);
}

extern "C" int Conv3dBackwardData(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                  void *stream, void *extra) {
  return Run(kBackwardData, nparam, params, ndims, shapes, dtypes, extra);
}

extern "C" int Conv3dBackwardWeights(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                     void *stream, void *extra) {
  return Run(kBackwardWeights, nparam, params, ndims, shapes, dtypes, extra);
}

// How many calls so far allocated their own working memory (see WorkingBlock).
extern "C" int64_t Conv3dOwnAllocations() { return own_allocations.load(); }

// The implementation oneDNN chose for a problem, e.g. "jit_uni_ncsp:conv+brg_conv_fwd:avx512_core"
// (tests and benchmarks record it). pass: 0 forward, 1 backward data, 2 backward weights.
extern "C" int Conv3dImplementation(int pass, const int64_t *src, const int64_t *wei, const int64_t *geometry,
                                    char *out, int out_size) {
  const Problem p = MakeProblem(static_cast<Pass>(pass), src, wei, geometry);
  if (!Valid(p)) return 1;
  try {
    const char *name = nullptr;
    CHECK_DNNL(dnnl_primitive_desc_query(Lookup(p).conv_pd, dnnl_query_impl_info_str, 0, &name));
    std::snprintf(out, out_size, "%s", name);
  } catch (const OnednnError &error) {
    return 2;
  }
  return 0;
}

// The samples per part the forward (pass 0) or backward-data (pass 1) convolution of a problem runs in (see
// BatchPart), -1 when oneDNN cannot create it (tests check that a large stem is split).
extern "C" int64_t Conv3dBatchPart(int pass, const int64_t *src, const int64_t *wei, const int64_t *geometry) {
  const Problem p = MakeProblem(static_cast<Pass>(pass), src, wei, geometry);
  if (!Valid(p) || pass == kBackwardWeights) return -1;
  try {
    return BatchPart(p.src[0], Lookup(p).scratchpad_bytes);
  } catch (const OnednnError &error) {
    return -1;
  }
}
