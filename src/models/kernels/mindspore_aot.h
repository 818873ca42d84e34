// The part of MindSpore's interface for "aot" Custom ops that a kernel's Init function uses: `AotExtra`, through
// which it reads the op's attributes and asks MindSpore for a workspace (working memory from MindSpore's own memory
// pool, passed to the kernel as one more pointer after its outputs).
//
// MindSpore ships the class in mindspore/include/mindspore/ccsrc/utils/custom_aot_extra.h, but that header pulls in
// MindSpore's whole IR (ir/anf.h and what it includes). This declares the same class: the same virtual functions in
// the same order and the same data members, so the object MindSpore passes has this layout (MindSpore 2.10). Its
// std::string arguments need MindSpore's C++ ABI: cpu_kernels.py compiles with -D_GLIBCXX_USE_CXX11_ABI=0.
#ifndef I3D_MINDSPORE_AOT_H_
#define I3D_MINDSPORE_AOT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace mindspore {

// What an Init function keeps for the kernel's calls (MindSpore deletes it with the kernel).
class AotKernelData {
 public:
  AotKernelData() = default;
  virtual ~AotKernelData() = default;
};

class AotExtra {
 public:
  AotExtra() = default;
  virtual ~AotExtra() = default;
  virtual bool HasAttr(std::string name) = 0;

  std::vector<int64_t> IntsAttr(const std::string &name) { return GetAttrIntVec(name); }
  void SetWorkSpace(const std::vector<size_t> &workspace) { workspace_ = workspace; }
  void SetKernelData(AotKernelData *kernel_data) { kernel_data_ = kernel_data; }
  AotKernelData *KernelData() const { return kernel_data_; }

 private:
  virtual bool GetAttrBool(std::string name) = 0;
  virtual int64_t GetAttrInt(std::string name) = 0;
  virtual float GetAttrFloat(std::string name) = 0;
  virtual std::string GetAttrStr(std::string name) = 0;
  virtual std::vector<int64_t> GetAttrIntVec(std::string name) = 0;
  virtual std::vector<float> GetAttrFloatVec(std::string name) = 0;
  virtual std::vector<std::vector<int64_t>> GetAttrInt2DVec(std::string name) = 0;
  virtual std::vector<std::vector<float>> GetAttrFloat2DVec(std::string name) = 0;

  std::vector<size_t> workspace_;
  AotKernelData *kernel_data_ = nullptr;
};

}  // namespace mindspore

#endif  // I3D_MINDSPORE_AOT_H_
