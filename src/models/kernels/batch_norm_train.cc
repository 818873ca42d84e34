// A training BatchNorm (batch statistics) fused with the residual add and the ReLU that follow it in a ResNet
// block, forward and backward, for MindSpore's CPU backend ("aot" Custom ops; src/models/cpu_kernels.py builds
// them, src/models/batch_norm.py uses them).
//
// Why it exists: in training MindSpore runs BatchNorm (oneDNN's plain-layout kernel), the add and the ReLU as three
// operators, each one or more passes over the tensor, and in backward ReluGrad before BatchNormGrad: 490 ms of a
// 3D-ResNet-50 step (benchmarks/NOTES.md, attempt 13). The work is memory-bound, so what counts is the passes:
//   forward: statistics (read x), then normalise, add and ReLU (read x [and the residual], write y);
//   backward: the two channel sums (read dy, x; y for the ReLU's mask where a residual was added, and then g is
//   written, the residual's gradient), then the input gradient (read dy or g, x; write dx). Without a residual the
//   ReLU's mask is recomputed from x with the forward's own mean, scale and beta (bit-identical: the same fused
//   multiply-add), so y is not read.
//
// Tensors are N, C, S... float32, contiguous (S: the remaining axes flattened); statistics per channel over N and S.
//   BatchNormTrainForward(x, gamma (C), beta (C), [residual (like x)], settings float32[2] = (eps, relu))
//       -> y (like x), mean (C), variance (C, biased: the one that normalises), affine (2C: scale, beta)
//     y = [relu]((x - mean) * scale + beta [+ residual]), scale = gamma / sqrt(variance + eps)
//   BatchNormTrainBackward(dy, x, gamma, mean, variance, affine, settings) -> dx, dgamma, dbeta
//   BatchNormTrainBackward(dy, x, y, gamma, mean, variance, affine, settings) -> dx, dgamma, dbeta, g
//     g = dy where y > 0 (relu) or dy; dbeta = sum g; dgamma = sum g * xhat; xhat = (x - mean) / sqrt(var + eps);
//     dx = gamma / sqrt(var + eps) * (g - dbeta / M - xhat * dgamma / M), M = N * S. The second form (a residual
//     was added) takes y for the ReLU's mask and writes g, the residual's gradient. The first takes no y: an input
//     of the gradient is kept alive by MindSpore from the forward to the backward, so one that is not read would
//     cost a tensor per BatchNorm (P3D-63's training peak: 2857 MB with y, 2521 MB without; NOTES.md attempt 14).
//   MovingStatisticsUpdate(moving_mean (C), moving_variance (C), mean (C), variance (C), settings float32[3] =
//       (keep, momentum, unbiased factor M / (M - 1))) -> float32[1]; an op marked side_effect_mem, so the moving
//       statistics are the parameters themselves, updated in place (nn.BatchNorm's rule, in its roundings):
//     moving_mean = moving_mean * keep + mean * momentum;
//     moving_variance = moving_variance * keep + (variance * factor) * momentum.
//     Written as MindSpore ops the update was ~a dozen graph nodes per BatchNorm (Loads, Muls, Adds, Assigns and
//     their UpdateStates), and graph mode holds ~80-95 KB per node (NOTES.md attempts 16 and 20).
// Sums are accumulated per (n, c) plane in float over blocks of 1024 values, then in double.
// Return codes: 0 success, 1 bad arguments.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_common.h"

namespace {

constexpr int64_t kBlock = 1024;  // values summed in float before the lanes go into double

// dy where `positive`, else 0 (ReLU's gradient), as a bit mask: written as a conditional, the compiler leaves it a
// branch, mispredicted on half the values (a 4x slower backward).
inline float PassIf(bool positive, float dy) {
  const uint32_t mask = 0u - static_cast<uint32_t>(positive);
  return __builtin_bit_cast(float, __builtin_bit_cast(uint32_t, dy) & mask);
}

// The forward's value before the residual and the ReLU, (x - mean) * scale + beta: centred first (no cancellation
// when the mean is large against the spread), then one rounding (fma), in both kernels alike.
inline float Affine(float x, float mean, float scale, float beta) { return std::fma(x - mean, scale, beta); }

struct Layout {
  int64_t batch, channels, plane;  // N, C, the product of the other axes
};

bool ReadLayout(int rank, const int64_t *shape, Layout *layout) {
  if (rank < 2) return false;
  layout->batch = shape[0];
  layout->channels = shape[1];
  layout->plane = 1;
  for (int a = 2; a < rank; ++a) layout->plane *= shape[a];
  return true;
}

bool SameShape(int rank_a, const int64_t *a, int rank_b, const int64_t *b) {
  if (rank_a != rank_b) return false;
  for (int i = 0; i < rank_a; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

bool IsVector(int rank, const int64_t *shape, int64_t size) { return rank == 1 && shape[0] == size; }

// sum of v(j) and of w(j) over [0, size) (v, w give floats for index j): vectorised float sums of kBlock values
// (omp simd: the reduction may be reordered), added up in double.
template <typename V, typename W>
void PlaneSums(int64_t size, V v, W w, double *sum_v, double *sum_w) {
  double s = 0.0, q = 0.0;
  for (int64_t start = 0; start < size; start += kBlock) {
    const int64_t end = std::min(size, start + kBlock);
    float bs = 0.f, bq = 0.f;
#pragma omp simd reduction(+ : bs, bq)
    for (int64_t j = start; j < end; ++j) {
      bs += v(j);
      bq += w(j);
    }
    s += bs;
    q += bq;
  }
  *sum_v = s;
  *sum_w = q;
}

template <bool kAdd, bool kRelu>
void NormalisePlane(const float *__restrict x, const float *__restrict add, float *__restrict y, int64_t size,
                    float mean, float scale, float beta) {
  for (int64_t j = 0; j < size; ++j) {
    float v = Affine(x[j], mean, scale, beta);
    if (kAdd) v += add[j];
    y[j] = kRelu ? std::max(v, 0.f) : v;
  }
}

// Per-plane sums -> per-channel sums over the batch.
std::vector<double> ChannelTotals(const Layout &d, const std::vector<double> &per_plane) {
  std::vector<double> per_channel(d.channels, 0.0);
  for (int64_t n = 0; n < d.batch; ++n)
    for (int64_t c = 0; c < d.channels; ++c) per_channel[c] += per_plane[n * d.channels + c];
  return per_channel;
}

// How the ReLU's mask is found in backward.
enum Mask { kNoRelu, kFromX, kFromY };

// Backward pass 1 over one plane: sum g and sum g * (x - mean); with kFromY also writes g.
template <Mask kMask>
void GradientSumsPlane(const float *__restrict dy, const float *__restrict x, const float *__restrict y,
                       float *__restrict g_out, int64_t size, float mean, float scale, float beta, double *sum_g,
                       double *sum_gx) {
  auto g = [=](int64_t j) {
    if (kMask == kFromX) return PassIf(Affine(x[j], mean, scale, beta) > 0.f, dy[j]);
    if (kMask == kFromY) return PassIf(y[j] > 0.f, dy[j]);
    return dy[j];
  };
  if (kMask == kFromY) {  // g is the residual's gradient: write it, then sum it
    for (int64_t j = 0; j < size; ++j) g_out[j] = g(j);
    PlaneSums(size, [=](int64_t j) { return g_out[j]; }, [=](int64_t j) { return g_out[j] * (x[j] - mean); }, sum_g,
              sum_gx);
  } else {
    PlaneSums(size, g, [=](int64_t j) { return g(j) * (x[j] - mean); }, sum_g, sum_gx);
  }
}

// Backward pass 2 over one plane: dx = p * g - q * (x - mean) + r, g from dy (and the mask) or as written.
template <Mask kMask>
void InputGradientPlane(const float *__restrict dy, const float *__restrict x, const float *__restrict g_in,
                        float *__restrict dx, int64_t size, float mean, float scale, float beta, float p, float q,
                        float r) {
  for (int64_t j = 0; j < size; ++j) {
    float g;
    if (kMask == kFromY) {
      g = g_in[j];
    } else if (kMask == kFromX) {
      g = PassIf(Affine(x[j], mean, scale, beta) > 0.f, dy[j]);
    } else {
      g = dy[j];
    }
    dx[j] = p * g - q * (x[j] - mean) + r;
  }
}

}  // namespace

extern "C" int BatchNormTrainForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                     void *stream, void *extra) {
  // x, gamma, beta, [residual], settings | y, mean, variance, affine
  if (nparam != 8 && nparam != 9) return 1;
  for (int i = 0; i < nparam; ++i)
    if (std::string(dtypes[i]) != "float32") return 1;
  const bool add = nparam == 9;
  const int settings_index = add ? 4 : 3, y_index = settings_index + 1;
  Layout d;
  if (!ReadLayout(ndims[0], shapes[0], &d) || !SameShape(ndims[0], shapes[0], ndims[y_index], shapes[y_index]))
    return 1;
  if (add && !SameShape(ndims[0], shapes[0], ndims[3], shapes[3])) return 1;
  for (int i : {1, 2, y_index + 1, y_index + 2})
    if (!IsVector(ndims[i], shapes[i], d.channels)) return 1;
  if (!IsVector(ndims[y_index + 3], shapes[y_index + 3], 2 * d.channels)) return 1;
  if (!IsVector(ndims[settings_index], shapes[settings_index], 2)) return 1;
  const auto *x = static_cast<const float *>(params[0]);
  const auto *gamma = static_cast<const float *>(params[1]);
  const auto *beta = static_cast<const float *>(params[2]);
  const auto *residual = add ? static_cast<const float *>(params[3]) : nullptr;
  const auto *settings = static_cast<const float *>(params[settings_index]);
  auto *y = static_cast<float *>(params[y_index]);
  auto *mean = static_cast<float *>(params[y_index + 1]);
  auto *variance = static_cast<float *>(params[y_index + 2]);
  auto *scale = static_cast<float *>(params[y_index + 3]);
  float *beta_used = scale + d.channels;
  const double eps = settings[0];
  const bool relu = settings[1] != 0.f;
  const int64_t planes = d.batch * d.channels, count = d.batch * d.plane;
  if (count == 0) return 1;  // no values to take statistics of
  if (planes == 0) return 0;

  // Pass 1: the moments of each plane about a first value of its channel (which keeps the float sums small when
  // the mean is large against the spread), then per channel.
  std::vector<float> centre(d.channels);
  for (int64_t c = 0; c < d.channels; ++c) centre[c] = x[c * d.plane];
  std::vector<double> plane_sum(planes), plane_squares(planes);
  i3d::ParallelRanges(planes, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float *p = x + i * d.plane;
      const float k = centre[i % d.channels];
      PlaneSums(d.plane, [=](int64_t j) { return p[j] - k; },
                [=](int64_t j) { return (p[j] - k) * (p[j] - k); }, &plane_sum[i], &plane_squares[i]);
    }
  }, d.plane);
  const std::vector<double> sum = ChannelTotals(d, plane_sum), squares = ChannelTotals(d, plane_squares);
  for (int64_t c = 0; c < d.channels; ++c) {
    const double shifted_mean = sum[c] / count;
    const double var = std::max(squares[c] / count - shifted_mean * shifted_mean, 0.0);
    const double m = centre[c] + shifted_mean, s = gamma[c] / std::sqrt(var + eps);
    mean[c] = static_cast<float>(m);
    variance[c] = static_cast<float>(var);
    scale[c] = static_cast<float>(s);
    beta_used[c] = beta[c];  // with scale: what the backward's mask recomputation needs
  }

  // Pass 2: normalise [+ residual] [ReLU].
  auto pass = add ? (relu ? NormalisePlane<true, true> : NormalisePlane<true, false>)
                  : (relu ? NormalisePlane<false, true> : NormalisePlane<false, false>);
  i3d::ParallelRanges(planes, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      pass(x + i * d.plane, add ? residual + i * d.plane : nullptr, y + i * d.plane, d.plane, mean[i % d.channels],
           scale[i % d.channels], beta[i % d.channels]);
  }, d.plane);
  return 0;
}

extern "C" int BatchNormTrainBackward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                                      void *stream, void *extra) {
  // dy, x, [y,] gamma, mean, variance, affine, settings | dx, dgamma, dbeta, [g]
  if (nparam != 10 && nparam != 12) return 1;
  for (int i = 0; i < nparam; ++i)
    if (std::string(dtypes[i]) != "float32") return 1;
  const bool residual = nparam == 12;
  const int k = residual ? 1 : 0;  // the index shift of the inputs after x
  const int dx_index = 7 + k;
  Layout d;
  if (!ReadLayout(ndims[0], shapes[0], &d)) return 1;
  for (int i : {1, dx_index})
    if (!SameShape(ndims[0], shapes[0], ndims[i], shapes[i])) return 1;
  if (residual && !(SameShape(ndims[0], shapes[0], ndims[2], shapes[2]) &&
                    SameShape(ndims[0], shapes[0], ndims[11], shapes[11])))
    return 1;
  for (int i : {2 + k, 3 + k, 4 + k, dx_index + 1, dx_index + 2})
    if (!IsVector(ndims[i], shapes[i], d.channels)) return 1;
  if (!IsVector(ndims[5 + k], shapes[5 + k], 2 * d.channels) || !IsVector(ndims[6 + k], shapes[6 + k], 2)) return 1;
  const auto *dy = static_cast<const float *>(params[0]);
  const auto *x = static_cast<const float *>(params[1]);
  const auto *y = residual ? static_cast<const float *>(params[2]) : nullptr;
  const auto *gamma = static_cast<const float *>(params[2 + k]);
  const auto *mean = static_cast<const float *>(params[3 + k]);
  const auto *variance = static_cast<const float *>(params[4 + k]);
  const auto *scale = static_cast<const float *>(params[5 + k]);
  const float *beta = scale + d.channels;
  const auto *settings = static_cast<const float *>(params[6 + k]);
  auto *dx = static_cast<float *>(params[dx_index]);
  auto *dgamma = static_cast<float *>(params[dx_index + 1]);
  auto *dbeta = static_cast<float *>(params[dx_index + 2]);
  auto *g = residual ? static_cast<float *>(params[11]) : nullptr;
  const double eps = settings[0];
  const bool relu = settings[1] != 0.f;
  const int64_t planes = d.batch * d.channels, count = d.batch * d.plane;
  if (count == 0) return 1;
  if (planes == 0) return 0;
  // With a residual the mask needs y (x alone does not give the sum); a BatchNorm without ReLU writes no g unless
  // a residual asks for it (then g = dy).
  const Mask mask = !relu ? kNoRelu : residual ? kFromY : kFromX;

  // Pass 1: sum g and sum g * (x - mean) per plane [writing g], then per channel.
  std::vector<double> plane_g(planes), plane_gx(planes);
  auto sums = mask == kFromY ? GradientSumsPlane<kFromY> : mask == kFromX ? GradientSumsPlane<kFromX>
                                                                          : GradientSumsPlane<kNoRelu>;
  i3d::ParallelRanges(planes, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t o = i * d.plane, c = i % d.channels;
      sums(dy + o, x + o, y ? y + o : nullptr, g ? g + o : nullptr, d.plane, mean[c], scale[c], beta[c],
           &plane_g[i], &plane_gx[i]);
      if (residual && mask == kNoRelu) std::memcpy(g + o, dy + o, sizeof(float) * d.plane);
    }
  }, d.plane);
  const std::vector<double> sum_g = ChannelTotals(d, plane_g), sum_gx = ChannelTotals(d, plane_gx);
  std::vector<float> p(d.channels), q(d.channels), r(d.channels);
  for (int64_t c = 0; c < d.channels; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(variance[c]) + eps);
    const double d_gamma = sum_gx[c] * invstd, d_beta = sum_g[c];
    dgamma[c] = static_cast<float>(d_gamma);
    dbeta[c] = static_cast<float>(d_beta);
    // dx = a (g - dbeta / M - xhat dgamma / M), a = gamma invstd, xhat = (x - mean) invstd
    const double a = gamma[c] * invstd;
    p[c] = static_cast<float>(a);
    q[c] = static_cast<float>(a * invstd * d_gamma / count);
    r[c] = static_cast<float>(-a * d_beta / count);
  }

  // Pass 2: the input gradient.
  auto pass = mask == kFromY ? InputGradientPlane<kFromY> : mask == kFromX ? InputGradientPlane<kFromX>
                                                                           : InputGradientPlane<kNoRelu>;
  i3d::ParallelRanges(planes, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t o = i * d.plane, c = i % d.channels;
      pass(dy + o, x + o, g ? g + o : nullptr, dx + o, d.plane, mean[c], scale[c], beta[c], p[c], q[c], r[c]);
    }
  }, d.plane);
  return 0;
}

// No fused multiply-add: the update rounds as the MindSpore ops it replaces.
extern "C" __attribute__((optimize("fp-contract=off"))) int MovingStatisticsUpdate(
    int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *stream, void *extra) {
  if (nparam != 6 || ndims[4] != 1 || shapes[4][0] != 3) return 1;
  for (int i = 0; i < nparam; ++i) {
    if (std::string(dtypes[i]) != "float32") return 1;
  }
  const int64_t channels = ndims[0] == 1 ? shapes[0][0] : -1;
  for (int i = 0; i < 4; ++i) {
    if (ndims[i] != 1 || shapes[i][0] != channels) return 1;
  }
  auto *moving_mean = static_cast<float *>(params[0]);
  auto *moving_variance = static_cast<float *>(params[1]);
  const auto *mean = static_cast<const float *>(params[2]);
  const auto *variance = static_cast<const float *>(params[3]);
  const auto *settings = static_cast<const float *>(params[4]);
  const float keep = settings[0], momentum = settings[1], factor = settings[2];
  for (int64_t c = 0; c < channels; ++c) {
    moving_mean[c] = moving_mean[c] * keep + mean[c] * momentum;
    moving_variance[c] = moving_variance[c] * keep + (variance[c] * factor) * momentum;
  }
  *static_cast<float *>(params[5]) = 1.0f;
  return 0;
}
