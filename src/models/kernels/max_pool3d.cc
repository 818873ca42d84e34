// A 3-D max pool with TensorFlow SAME or explicit padding and its gradient, for MindSpore's CPU backend ("aot"
// Custom ops).
//
// Why they exist: MindSpore 2.10's MaxPool3D on CPU runs oneDNN's pooling on plain NCDHW tensors and holds about
// eight times its output besides (a 3D-ResNet stem at batch 8: ~110 MB beyond its 12.8 MB output, the largest part
// of the forward's peak above the stem; benchmarks/NOTES.md, attempt 17). Its MaxPool3DGrad reruns the pool as a
// oneDNN forward_training primitive to get its workspace, served by the slow `simple_nchw` implementation: 28 % of
// an I3D training step. MaxPool3dForward writes the output only, each plane pooled along W, then H, then T (the
// maximum of maxima is the maximum); MaxPool3dGrad reads the window of every output again and routes the output
// gradient to the FIRST maximum in (t, h, w) order, the element oneDNN's workspace records. Both are bit-identical
// to MindSpore's (tests/test_layers.py).
//
// Geometry: int64[12] = kernel (t, h, w), stride (t, h, w), pad before (t, h, w), pad after (t, h, w), where a
// pad of -1 before and after means TensorFlow SAME along that axis. Padded positions never win (TF SAME and
// PyTorch's MaxPool3d pad with -inf); every window holds at least one input element (pads of at most half the
// kernel, checked by the layer and here).
//   MaxPool3dForward: x (N, C, T, H, W) float32, geometry -> y (N, C, To, Ho, Wo)
//   MaxPool3dGrad:    x, dy (N, C, To, Ho, Wo) float32, geometry -> dx, shaped like x
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_common.h"

namespace {

struct Pool {
  int64_t size[3];     // input T, H, W
  int64_t out[3];      // output To, Ho, Wo
  int64_t kernel[3];
  int64_t stride[3];
  int64_t pad[3];      // padding before, per axis
};

// The window [first, last) of output `o` along an axis of `size` elements.
inline void Window(const Pool &p, int axis, int64_t o, int64_t size, int64_t *first, int64_t *last) {
  const int64_t start = o * p.stride[axis] - p.pad[axis];
  *first = std::max<int64_t>(start, 0);
  *last = std::min(start + p.kernel[axis], size);
}

// One (n, c) plane: dx is zeroed, then each output's gradient is added at its window's first maximum.
void PlaneGrad(const Pool &p, const float *x, const float *dy, float *dx) {
  const int64_t T = p.size[0], H = p.size[1], W = p.size[2];
  std::memset(dx, 0, sizeof(float) * T * H * W);
  for (int64_t ot = 0; ot < p.out[0]; ++ot) {
    int64_t t0, t1;
    Window(p, 0, ot, T, &t0, &t1);
    for (int64_t oh = 0; oh < p.out[1]; ++oh) {
      int64_t h0, h1;
      Window(p, 1, oh, H, &h0, &h1);
      for (int64_t ow = 0; ow < p.out[2]; ++ow) {
        int64_t w0, w1;
        Window(p, 2, ow, W, &w0, &w1);
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

// One (n, c) plane pooled along W (into `along_w`, T x H x Wo), then H (`along_h`, T x Ho x Wo), then T (into y).
void PlaneForward(const Pool &p, const float *x, float *y, float *along_w, float *along_h) {
  const int64_t T = p.size[0], H = p.size[1], W = p.size[2], To = p.out[0], Ho = p.out[1], Wo = p.out[2];
  for (int64_t row = 0; row < T * H; ++row) {
    const float *in = x + row * W;
    for (int64_t ow = 0; ow < Wo; ++ow) {
      int64_t w0, w1;
      Window(p, 2, ow, W, &w0, &w1);
      float best = in[w0];
      for (int64_t w = w0 + 1; w < w1; ++w) best = std::max(best, in[w]);
      along_w[row * Wo + ow] = best;
    }
  }
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t oh = 0; oh < Ho; ++oh) {
      int64_t h0, h1;
      Window(p, 1, oh, H, &h0, &h1);
      float *out = along_h + (t * Ho + oh) * Wo;
      std::copy(along_w + (t * H + h0) * Wo, along_w + (t * H + h0 + 1) * Wo, out);
      for (int64_t h = h0 + 1; h < h1; ++h) {
        const float *in = along_w + (t * H + h) * Wo;
        for (int64_t ow = 0; ow < Wo; ++ow) out[ow] = std::max(out[ow], in[ow]);
      }
    }
  }
  const int64_t frame = Ho * Wo;
  for (int64_t ot = 0; ot < To; ++ot) {
    int64_t t0, t1;
    Window(p, 0, ot, T, &t0, &t1);
    float *out = y + ot * frame;
    std::copy(along_h + t0 * frame, along_h + (t0 + 1) * frame, out);
    for (int64_t t = t0 + 1; t < t1; ++t) {
      const float *in = along_h + t * frame;
      for (int64_t i = 0; i < frame; ++i) out[i] = std::max(out[i], in[i]);
    }
  }
}

// The pool's sizes from the input and output shapes and the geometry; false when they disagree or a window could
// hold padding only.
bool ReadPool(const int64_t *in_shape, const int64_t *out_shape, const int64_t *geometry, Pool *p) {
  for (int a = 0; a < 3; ++a) {
    p->size[a] = in_shape[2 + a];
    p->out[a] = out_shape[2 + a];
    p->kernel[a] = geometry[a];
    p->stride[a] = geometry[3 + a];
    if (p->kernel[a] < 1 || p->stride[a] < 1) return false;
    int64_t after;
    i3d::AxisPadding(p->size[a], p->kernel[a], p->stride[a], geometry[6 + a], geometry[9 + a], &p->pad[a], &after);
    if (p->pad[a] < 0 || after < 0 || 2 * std::max(p->pad[a], after) > p->kernel[a] ||
        p->out[a] != i3d::OutputSize(p->size[a], p->kernel[a], p->stride[a], p->pad[a], after))
      return false;
  }
  return in_shape[0] == out_shape[0] && in_shape[1] == out_shape[1];
}

}  // namespace

extern "C" int MaxPool3dForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                void *stream, void *extra) {
  if (nparam != 3 || ndims[0] != 5 || ndims[1] != 1 || shapes[1][0] != 12 || ndims[2] != 5) return 1;
  if (std::string(dtypes[0]) != "float32" || std::string(dtypes[2]) != "float32") return 2;
  const auto *x = static_cast<const float *>(params[0]);
  auto *y = static_cast<float *>(params[2]);
  Pool p;
  if (!ReadPool(shapes[0], shapes[2], static_cast<const int64_t *>(params[1]), &p)) return 1;
  const int64_t planes = shapes[0][0] * shapes[0][1];
  const int64_t in_plane = p.size[0] * p.size[1] * p.size[2];
  const int64_t out_plane = p.out[0] * p.out[1] * p.out[2];
  if (planes == 0 || out_plane == 0) return 0;
  auto run = [&](int64_t begin, int64_t end) {
    std::vector<float> along_w(p.size[0] * p.size[1] * p.out[2]), along_h(p.size[0] * p.out[1] * p.out[2]);
    for (int64_t i = begin; i < end; ++i)
      PlaneForward(p, x + i * in_plane, y + i * out_plane, along_w.data(), along_h.data());
  };
  i3d::ParallelRanges(planes, run, in_plane);
  return 0;
}

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
  if (!ReadPool(shapes[0], shapes[1], geometry, &p)) return 1;
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
