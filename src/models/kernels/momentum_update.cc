// SGD with momentum and L2 weight decay for MindSpore's CPU backend: one parameter's update, in place (an "aot"
// Custom op marked side_effect_mem, so MindSpore passes the weight and its moment as the parameters themselves).
//
// Why it exists: written as MindSpore ops, the decay (g + decay * w) reads the weight through a second Load, and a
// parameter loaded twice in one graph gets a TensorMove, a copy, at each of its Loads (MindSpore's order
// enforcement: every Load of a ref key that appears more than once). The forward's copy of every decayed weight
// then lives until the backward is done: a P3D-199 training step held ~280 MB more with weight decay than
// without, and spent ~200 ms copying (benchmarks/NOTES.md, attempt 20). Here the weight is read where it is
// written, and never copied.
//
// Inputs: weight, moment, gradient (the same number of float32 values), lr, momentum, decay (float32 scalars).
// Per value, in nn.Momentum's order and roundings (no fused multiply-add, see the pragma):
//   g = w * decay + g (when decay != 0); moment = moment * momentum + g; w -= moment * lr.
// Output: float32[1], 1 (the op needs an output; the update is its side effect).
#pragma GCC optimize("fp-contract=off")
#include <cstdint>
#include <string>

#include "kernel_common.h"

extern "C" int MomentumUpdate(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                              void *stream, void *extra) {
  if (nparam != 7) return 1;
  for (int i = 0; i < nparam; ++i) {
    if (std::string(dtypes[i]) != "float32") return 2;
  }
  int64_t count = 1;
  for (int d = 0; d < ndims[0]; ++d) count *= shapes[0][d];
  for (int i = 1; i < 3; ++i) {
    int64_t other = 1;
    for (int d = 0; d < ndims[i]; ++d) other *= shapes[i][d];
    if (other != count) return 1;
  }
  auto *weight = static_cast<float *>(params[0]);
  auto *moment = static_cast<float *>(params[1]);
  const auto *gradient = static_cast<const float *>(params[2]);
  const float lr = *static_cast<const float *>(params[3]);
  const float momentum = *static_cast<const float *>(params[4]);
  const float decay = *static_cast<const float *>(params[5]);
  *static_cast<float *>(params[6]) = 1.0f;
  auto run = [&](int64_t begin, int64_t end) {
    if (decay != 0.0f) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) {
        const float decayed = weight[i] * decay;
        moment[i] = moment[i] * momentum + (decayed + gradient[i]);
        weight[i] -= moment[i] * lr;
      }
    } else {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) {
        moment[i] = moment[i] * momentum + gradient[i];
        weight[i] -= moment[i] * lr;
      }
    }
  };
  i3d::ParallelRanges(count, run, 1);
  return 0;
}
