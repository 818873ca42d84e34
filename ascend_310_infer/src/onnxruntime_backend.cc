// CPU backend: ONNX Runtime's C++ API runs the exported .onnx, so the harness can be exercised without Ascend.
//
// The headers may be newer than the library (setup_infer_env.sh pairs Debian's 1.21 headers with the 1.20.1
// library of the onnxruntime wheel the project pins). ONNX Runtime's C API is a versioned table that only ever
// grows at the end, so we ask the library for the table of version 20 instead of the headers' own version:
// every function this file calls is in it, and a library older than 1.20 is refused with a clear message.
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include <stdexcept>

#include "inference_backend.h"

static_assert(ORT_API_VERSION >= 20, "ONNX Runtime headers 1.20 or newer are needed");

namespace {

constexpr uint32_t kOrtApiVersion = 20;

void InitOrtApi() {
  const OrtApi* api = OrtGetApiBase()->GetApi(kOrtApiVersion);
  if (api == nullptr) {
    throw std::runtime_error(std::string("the ONNX Runtime library is ") + OrtGetApiBase()->GetVersionString() +
                             "; version 1.20 or newer is needed");
  }
  Ort::InitApi(api);
}

class OnnxRuntimeBackend : public InferenceBackend {
 public:
  explicit OnnxRuntimeBackend(const std::string& onnx_path) : env_(ORT_LOGGING_LEVEL_WARNING, "i3d_infer") {
    Ort::SessionOptions options;
    options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);  // what onnxruntime-python uses
    session_ = Ort::Session(env_, onnx_path.c_str(), options);
    if (session_.GetInputCount() != 1 || session_.GetOutputCount() != 1) {
      throw std::runtime_error(onnx_path + ": expected one input (the clips) and one output (the logits)");
    }
    Ort::AllocatorWithDefaultOptions allocator;
    input_name_ = session_.GetInputNameAllocated(0, allocator).get();
    output_name_ = session_.GetOutputNameAllocated(0, allocator).get();
    const auto input_type = session_.GetInputTypeInfo(0);  // owns what input_info points into
    const auto input_info = input_type.GetTensorTypeAndShapeInfo();
    if (input_info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      throw std::runtime_error(onnx_path + ": the input is not float32");
    }
    input_shape_ = input_info.GetShape();
  }

  Shape InputShape() const override { return input_shape_; }

  std::vector<float> Run(const std::vector<float>& input, const Shape& input_shape) override {
    const auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    // ONNX Runtime only reads the input buffer; its API takes a non-const pointer for both uses.
    auto input_tensor = Ort::Value::CreateTensor<float>(memory, const_cast<float*>(input.data()), input.size(),
                                                        input_shape.data(), input_shape.size());
    const char* input_names[] = {input_name_.c_str()};
    const char* output_names[] = {output_name_.c_str()};
    auto outputs = session_.Run(Ort::RunOptions{nullptr}, input_names, &input_tensor, 1, output_names, 1);
    const float* logits = outputs[0].GetTensorData<float>();
    return std::vector<float>(logits, logits + outputs[0].GetTensorTypeAndShapeInfo().GetElementCount());
  }

 private:
  Ort::Env env_;
  Ort::Session session_{nullptr};
  std::string input_name_;
  std::string output_name_;
  Shape input_shape_;
};

}  // namespace

std::unique_ptr<InferenceBackend> CreateOnnxRuntimeBackend(const std::string& onnx_path) {
  InitOrtApi();  // before any Ort:: object exists
  return std::make_unique<OnnxRuntimeBackend>(onnx_path);
}
