// Ascend backend: MindSpore's C++ inference API runs the exported .mindir on an Ascend 310/310P device.
#include <stdexcept>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/types.h"
#include "inference_backend.h"

namespace {

void Check(const mindspore::Status& status, const std::string& what) {
  if (!status.IsOk()) throw std::runtime_error(what + " failed: " + status.ToString());
}

class MindSporeBackend : public InferenceBackend {
 public:
  MindSporeBackend(const std::string& mindir_path, uint32_t device_id) {
    auto context = std::make_shared<mindspore::Context>();
    auto ascend = std::make_shared<mindspore::AscendDeviceInfo>();
    ascend->SetDeviceID(device_id);
    context->MutableDeviceInfo().push_back(ascend);

    mindspore::Graph graph;
    Check(mindspore::Serialization::Load(mindir_path, mindspore::ModelType::kMindIR, &graph),
          "loading " + mindir_path);
    Check(model_.Build(mindspore::GraphCell(graph), context),
          "building " + mindir_path + " for Ascend device " + std::to_string(device_id));
    const auto inputs = model_.GetInputs();
    if (inputs.size() != 1 || inputs[0].DataType() != mindspore::DataType::kNumberTypeFloat32) {
      throw std::runtime_error(mindir_path + ": expected one float32 input (the clips)");
    }
    input_shape_ = inputs[0].Shape();
  }

  Shape InputShape() const override { return input_shape_; }

  std::vector<float> Run(const std::vector<float>& input, const Shape& input_shape) override {
    auto model_inputs = model_.GetInputs();
    if (model_inputs[0].Shape() != input_shape) {  // a dynamic batch: size the graph for this batch
      Check(model_.Resize(model_inputs, {input_shape}), "resizing the model's input");
      model_inputs = model_.GetInputs();
    }
    std::vector<mindspore::MSTensor> inputs;
    inputs.emplace_back(model_inputs[0].Name(), model_inputs[0].DataType(), input_shape, input.data(),
                        input.size() * sizeof(float));
    std::vector<mindspore::MSTensor> outputs;
    Check(model_.Predict(inputs, &outputs), "inference");
    if (outputs.size() != 1 || outputs[0].DataType() != mindspore::DataType::kNumberTypeFloat32) {
      throw std::runtime_error("expected one float32 output (the logits)");
    }
    const auto data = outputs[0].Data();  // a host copy when the output lives on the device
    const auto* logits = static_cast<const float*>(data.get());
    return std::vector<float>(logits, logits + outputs[0].ElementNum());
  }

 private:
  mindspore::Model model_;
  Shape input_shape_;
};

}  // namespace

std::unique_ptr<InferenceBackend> CreateMindSporeBackend(const std::string& mindir_path, uint32_t device_id) {
  return std::make_unique<MindSporeBackend>(mindir_path, device_id);
}
