// TSM's temporal shift for MindSpore's CPU backend (an "aot" Custom op), forward and backward in one kernel.
//
// Why it exists: written as slices, zero blocks and concatenations (src/models/tsm.py TemporalShift, the form
// that exports), the shift costs MindSpore's CPU backend about 30 % of a TSM-ResNet50 forward and 20 % of a
// training step (benchmarks/NOTES.md): each block copies its whole input through several generic operators.
// This kernel writes the output in one pass, a memcpy per (n, c) plane, and is exact (it only moves values).
//
// Inputs: x (N, C, T, H, W) float32, settings int64[2] = (shift_div, direction). fold = C / shift_div.
// direction +1 (the shift): out[:, :fold, t] = x[:, :fold, t + 1], out[:, fold:2 fold, t] = x[:, fold:2 fold, t - 1],
// zeros where no such frame exists, the other channels copied. direction -1 moves each group the other way, which
// is the shift's gradient. Output: shaped like x.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernel_common.h"

namespace {

// One (n, c) plane of T frames of `frame` values, moved by `step` frames (+1: frame t takes t + 1; -1: t - 1).
void MovePlane(const float *x, float *out, int64_t frames, int64_t frame, int step) {
  const size_t bytes = sizeof(float) * frame;
  if (step == 0) {
    std::memcpy(out, x, bytes * frames);
  } else if (frames == 1) {
    std::memset(out, 0, bytes);
  } else if (step > 0) {
    std::memcpy(out, x + frame, bytes * (frames - 1));
    std::memset(out + frame * (frames - 1), 0, bytes);
  } else {
    std::memset(out, 0, bytes);
    std::memcpy(out + frame, x, bytes * (frames - 1));
  }
}

}  // namespace

extern "C" int TemporalShift(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                             void *stream, void *extra) {
  if (nparam != 3 || ndims[0] != 5 || ndims[1] != 1 || shapes[1][0] != 2 || ndims[2] != 5) return 1;
  if (std::string(dtypes[0]) != "float32" || std::string(dtypes[2]) != "float32") return 2;
  const auto *x = static_cast<const float *>(params[0]);
  const auto *settings = static_cast<const int64_t *>(params[1]);
  auto *out = static_cast<float *>(params[2]);
  const int64_t n = shapes[0][0], c = shapes[0][1], t = shapes[0][2];
  const int64_t frame = shapes[0][3] * shapes[0][4];
  const int64_t shift_div = settings[0], direction = settings[1];
  if (shift_div < 1 || (direction != 1 && direction != -1)) return 1;
  const int64_t fold = c / shift_div, planes = n * c;
  if (planes == 0 || t == 0 || frame == 0) return 0;
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t channel = i % c;
      const int step = channel < fold ? static_cast<int>(direction) : channel < 2 * fold ? -static_cast<int>(direction) : 0;
      MovePlane(x + i * t * frame, out + i * t * frame, t, frame, step);
    }
  };
  i3d::ParallelRanges(planes, run, t * frame);
  return 0;
}
