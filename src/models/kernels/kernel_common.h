// Helpers shared by the C++ CPU kernels in this folder (src/models/cpu_kernels.py builds them).
#ifndef I3D_KERNEL_COMMON_H_
#define I3D_KERNEL_COMMON_H_

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <thread>

namespace i3d {

// TensorFlow SAME along one axis: output ceil(size / stride); the odd padding element goes at the END
// (the rule of src/models/same_padding.py).
inline void SamePadding(int64_t size, int64_t kernel, int64_t stride, int64_t *before, int64_t *after) {
  const int64_t total = size % stride == 0 ? std::max<int64_t>(kernel - stride, 0)
                                           : std::max<int64_t>(kernel - size % stride, 0);
  *before = total / 2;
  *after = total - total / 2;
}

inline int64_t SameOutputSize(int64_t size, int64_t stride) { return (size + stride - 1) / stride; }

// The threads this process may use (taskset and cgroup cpusets narrow it; hardware_concurrency does not).
inline int UsableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace i3d

#endif  // I3D_KERNEL_COMMON_H_
