// Gradient of a 3-D max pool with TensorFlow SAME or explicit padding, for MindSpore's CPU backend (an "aot"
// Custom op).
//
// Why it exists: MindSpore 2.10's MaxPool3DGrad on CPU reruns the pool as a oneDNN forward_training
// primitive to get its workspace, and oneDNN serves plain NCDHW tensors with its slow `simple_nchw`
// implementation: 28 % of an I3D training step (benchmarks/NOTES.md). This kernel reads the window of
// every output again and routes the output gradient to the FIRST maximum in (t, h, w) order, which is
// the element oneDNN's workspace records; the results are bit-identical (tests/test_layers.py).
//
// Inputs: x (N, C, T, H, W) float32, dy (N, C, To, Ho, Wo) float32, geometry int64[12] = kernel (t, h, w),
// stride (t, h, w), pad before (t, h, w), pad after (t, h, w), where a pad of -1 before and after means
// TensorFlow SAME along that axis. Output: dx, shaped like x. Padded positions never win (TF SAME and
// PyTorch's MaxPool3d pad with -inf); every window holds at least one input element (pads of at most half
// the kernel, checked by the layer).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernel_common.h"

namespace {

struct Pool {
  int64_t size[3];     // input T, H, W
  int64_t out[3];      // output To, Ho, Wo
  int64_t kernel[3];
  int64_t stride[3];
  int64_t pad[3];      // padding before, per axis
};

// One (n, c) plane: dx is zeroed, then each output's gradient is added at its window's first maximum.
void PlaneGrad(const Pool &p, const float *x, const float *dy, float *dx) {
  const int64_t T = p.size[0], H = p.size[1], W = p.size[2];
  std::memset(dx, 0, sizeof(float) * T * H * W);
  for (int64_t ot = 0; ot < p.out[0]; ++ot) {
    const int64_t t_start = ot * p.stride[0] - p.pad[0];
    const int64_t t0 = std::max<int64_t>(t_start, 0), t1 = std::min(t_start + p.kernel[0], T);
    for (int64_t oh = 0; oh < p.out[1]; ++oh) {
      const int64_t h_start = oh * p.stride[1] - p.pad[1];
      const int64_t h0 = std::max<int64_t>(h_start, 0), h1 = std::min(h_start + p.kernel[1], H);
      for (int64_t ow = 0; ow < p.out[2]; ++ow) {
        const int64_t w_start = ow * p.stride[2] - p.pad[2];
        const int64_t w0 = std::max<int64_t>(w_start, 0), w1 = std::min(w_start + p.kernel[2], W);
        int64_t best = (t0 * H + h0) * W + w0;
        float best_value = x[best];
        for (int64_t t = t0; t < t1; ++t) {
          for (int64_t h = h0; h < h1; ++h) {
            const int64_t row = (t * H + h) * W;
            for (int64_t w = w0; w < w1; ++w) {
              // Strictly greater: a tie keeps the earlier element, as oneDNN's workspace does.
              if (x[row + w] > best_value) {
                best_value = x[row + w];
                best = row + w;
              }
            }
          }
        }
        dx[best] += dy[(ot * p.out[1] + oh) * p.out[2] + ow];
      }
    }
  }
}

}  // namespace

extern "C" int MaxPool3dGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                             void *stream, void *extra) {
  if (nparam != 4 || ndims[0] != 5 || ndims[1] != 5 || ndims[2] != 1 || shapes[2][0] != 12 || ndims[3] != 5) return 1;
  for (int i : {0, 1, 3}) {
    if (std::string(dtypes[i]) != "float32") return 2;
  }
  const auto *x = static_cast<const float *>(params[0]);
  const auto *dy = static_cast<const float *>(params[1]);
  const auto *geometry = static_cast<const int64_t *>(params[2]);
  auto *dx = static_cast<float *>(params[3]);
  Pool p;
  for (int a = 0; a < 3; ++a) {
    p.size[a] = shapes[0][2 + a];
    p.out[a] = shapes[1][2 + a];
    p.kernel[a] = geometry[a];
    p.stride[a] = geometry[3 + a];
    if (p.kernel[a] < 1 || p.stride[a] < 1) return 1;
    int64_t after;
    i3d::AxisPadding(p.size[a], p.kernel[a], p.stride[a], geometry[6 + a], geometry[9 + a], &p.pad[a], &after);
    if (p.pad[a] < 0 || after < 0 || 2 * std::max(p.pad[a], after) > p.kernel[a] ||
        p.out[a] != i3d::OutputSize(p.size[a], p.kernel[a], p.stride[a], p.pad[a], after))
      return 1;
  }
  const int64_t planes = shapes[0][0] * shapes[0][1];
  if (planes == 0) return 0;
  const int64_t in_plane = p.size[0] * p.size[1] * p.size[2];
  const int64_t out_plane = p.out[0] * p.out[1] * p.out[2];
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) PlaneGrad(p, x + i * in_plane, dy + i * out_plane, dx + i * in_plane);
  };
  i3d::ParallelRanges(planes, run, in_plane);
  return 0;
}
