// One small interface over the runtimes that can execute an exported I3D: MindSpore's C++ API on Ascend
// (MINDIR) and ONNX Runtime on the CPU (ONNX). main.cc sees only this.
#ifndef I3D_INFER_INFERENCE_BACKEND_H_
#define I3D_INFER_INFERENCE_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using Shape = std::vector<int64_t>;

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;

  // Shape of the model's single float32 input, N, C, T, H, W. A negative batch means the batch is dynamic
  // (a MINDIR exported with --dynamic_batch); every other dimension is fixed.
  virtual Shape InputShape() const = 0;

  // Runs the model on one batch of `input_shape` (row-major float32) and returns its single float32 output,
  // the logits N x num_classes, row-major. Throws std::runtime_error naming what failed.
  virtual std::vector<float> Run(const std::vector<float>& input, const Shape& input_shape) = 0;
};

// The factories exist only for the backends compiled in (CMake defines WITH_MINDSPORE, WITH_ONNXRUNTIME).
// Both throw std::runtime_error when the model cannot be loaded.
std::unique_ptr<InferenceBackend> CreateMindSporeBackend(const std::string& mindir_path, uint32_t device_id);
std::unique_ptr<InferenceBackend> CreateOnnxRuntimeBackend(const std::string& onnx_path);

#endif  // I3D_INFER_INFERENCE_BACKEND_H_
