// Helpers shared by the C++ CPU kernels in this folder (src/models/cpu_kernels.py builds them).
#ifndef I3D_KERNEL_COMMON_H_
#define I3D_KERNEL_COMMON_H_

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
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

// Threads kept between parallel regions that follow each other closely. Starting and joining a thread costs ~41-47 us
// on the 2-core VM, and a P3D-199 training step runs thousands of short regions (each oneDNN primitive, each
// BatchNorm, pool and shift pass): on the order of a tenth of its time (benchmarks/NOTES.md, attempt 19). A worker polls for
// the next region for kKeepMicroseconds after its last one, then ends: a worker that slept instead would, woken, tend
// to run on its waker's core (measured: a 3D-ResNet-18 training step, whose regions are far apart, 6 % slower),
// where a new thread goes to an idle one. One pool per kernel library. One region at a time: a caller that finds
// the pool running another (MindSpore may run independent kernels on two threads) or calls it from inside a region
// gets `false` and starts threads of its own, as before. A forked child (a data worker) gets a new pool: the
// parent's workers do not exist there, and its locks may have been held at the fork.
class WorkerPool {
 public:
  static WorkerPool *Get() {
    WorkerPool *pool = Instance().load(std::memory_order_acquire);
    if (pool) return pool;
    auto *fresh = new WorkerPool;
    if (!Instance().compare_exchange_strong(pool, fresh, std::memory_order_acq_rel)) {
      delete fresh;  // another thread made it first
      return pool;
    }
    static std::atomic<bool> registered{false};  // inherited by a child, like the handler itself
    if (!registered.exchange(true)) pthread_atfork(nullptr, nullptr, [] { Instance().store(nullptr); });
    return fresh;
  }

  // fn(i) for i in [0, threads), this thread taking i = 0 and a worker each of the others; false (nothing run)
  // when the pool cannot take the region now.
  bool Run(int threads, const std::function<void(int)> &fn) {
    if (InRegion()) return false;  // a nested region (its mutex is held, perhaps by this very thread)
    std::unique_lock<std::mutex> region(region_mutex_, std::try_to_lock);
    if (!region.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (live_.size() < static_cast<size_t>(threads)) live_.resize(threads, false);
      const int64_t published = generation_.load(std::memory_order_relaxed);  // raised below, to published + 1
      for (int index = 1; index < threads; ++index) {
        if (live_[index]) continue;
        live_[index] = true;
        // the pool is never destroyed (see Get)
        std::thread([this, index, published] { Work(index, published); }).detach();
      }
      task_ = &fn;
      helpers_ = threads - 1;
      remaining_.store(threads - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    InRegion() = true;
    fn(0);
    InRegion() = false;
    for (int i = 1; remaining_.load(std::memory_order_acquire) != 0; ++i) {  // the workers' parts
      __builtin_ia32_pause();
      if (i % 1024 == 0) std::this_thread::yield();
    }
    return true;
  }

 private:
  static std::atomic<WorkerPool *> &Instance() {
    static std::atomic<WorkerPool *> instance{nullptr};
    return instance;
  }
  static bool &InRegion() {
    static thread_local bool in_region = false;
    return in_region;
  }

  // Worker `index` (1 ..), started while region `seen` + 1 was being published.
  void Work(int index, int64_t seen) {
    InRegion() = true;  // a region this worker's task starts runs on threads of its own
    for (;;) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kKeepMicroseconds);
      while (generation_.load(std::memory_order_acquire) == seen) {
        for (int i = 0; i < 64; ++i) __builtin_ia32_pause();
        if (std::chrono::steady_clock::now() < until) continue;
        std::lock_guard<std::mutex> lock(mutex_);  // Run publishes a region under it, after counting the workers
        if (generation_.load(std::memory_order_acquire) != seen) break;
        live_[index] = false;
        return;
      }
      int helpers;
      const std::function<void(int)> *task;
      {
        std::lock_guard<std::mutex> lock(mutex_);  // the region's three values together (the next may be out)
        seen = generation_.load(std::memory_order_relaxed);
        helpers = helpers_;
        task = task_;
      }
      if (index > helpers) continue;  // a region of fewer threads
      (*task)(index);
      remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  static constexpr int kKeepMicroseconds = 100;
  std::mutex region_mutex_;  // held by the thread running a region
  std::mutex mutex_;         // guards live_ and the publishing of a region
  std::vector<bool> live_;   // live_[i]: worker i runs
  const std::function<void(int)> *task_ = nullptr;  // the region's, with helpers_, set with generation_ under mutex_
  int helpers_ = 0;
  std::atomic<int> remaining_{0};
  std::atomic<int64_t> generation_{0};
};

// fn(i) for i in [0, threads) in parallel, this thread taking i = 0: on the pool's workers, or on threads started
// for the call when the pool is busy.
inline void RunOnThreads(int threads, const std::function<void(int)> &fn) {
  if (threads <= 1) {
    fn(0);
    return;
  }
  if (WorkerPool::Get()->Run(threads, fn)) return;
  std::vector<std::thread> helpers;
  for (int i = 1; i < threads; ++i) helpers.emplace_back(fn, i);
  fn(0);
  for (auto &helper : helpers) helper.join();
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
  RunOnThreads(threads, [&](int i) { run(count * i / threads, count * (i + 1) / threads); });
}

}  // namespace i3d

#endif  // I3D_KERNEL_COMMON_H_
