// Helpers shared by the C++ CPU kernels in this folder (src/models/cpu_kernels.py builds them).
#ifndef I3D_KERNEL_COMMON_H_
#define I3D_KERNEL_COMMON_H_

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace i3d {

// TensorFlow SAME along one axis: output ceil(size / stride); the odd padding element goes at the END
// (the rule of src/models/padding.py).
inline void SamePadding(int64_t size, int64_t kernel, int64_t stride, int64_t *before, int64_t *after) {
  const int64_t total = size % stride == 0 ? std::max<int64_t>(kernel - stride, 0)
                                           : std::max<int64_t>(kernel - size % stride, 0);
  *before = total / 2;
  *after = total - total / 2;
}

// In a kernel's geometry a pad of -1 means TensorFlow SAME along that axis (its pads depend on the size).
constexpr int64_t kSamePadding = -1;

// The pads of one axis: the explicit ones as given, or SAME's for this size.
inline void AxisPadding(int64_t size, int64_t kernel, int64_t stride, int64_t given_before, int64_t given_after,
                        int64_t *before, int64_t *after) {
  if (given_before == kSamePadding) {
    SamePadding(size, kernel, stride, before, after);
  } else {
    *before = given_before;
    *after = given_after;
  }
}

// floor((size + before + after - kernel) / stride) + 1, as PyTorch's and oneDNN's; ceil(size / stride) for SAME.
// Below 1 when the padded input is shorter than the kernel (the caller refuses that).
inline int64_t OutputSize(int64_t size, int64_t kernel, int64_t stride, int64_t before, int64_t after) {
  const int64_t span = size + before + after - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

// The threads this process may use (taskset and cgroup cpusets narrow it; hardware_concurrency does not).
inline int UsableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// A thread started for fewer values than this costs more than it saves (a memory-bound pass moves them in ~10 us).
constexpr int64_t kMinValuesPerThread = int64_t{1} << 16;

// run(begin, end) over [0, count) in contiguous ranges, one per usable CPU (this thread takes the first).
// values_per_item (0: not given) caps the threads so that each gets at least kMinValuesPerThread values: a small
// tensor is done by this thread alone.
template <typename Run>
inline void ParallelRanges(int64_t count, Run run, int64_t values_per_item = 0) {
  int64_t usable = std::min<int64_t>(UsableCpus(), count);
  if (values_per_item > 0) usable = std::max<int64_t>(1, std::min(usable, count * values_per_item / kMinValuesPerThread));
  const int threads = static_cast<int>(usable);
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back(run, count * i / threads, count * (i + 1) / threads);
  run(0, count / threads);
  for (auto &worker : workers) worker.join();
}

}  // namespace i3d

#endif  // I3D_KERNEL_COMMON_H_
