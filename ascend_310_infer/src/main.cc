// main: runs an exported I3D on a folder of preprocessed clip batches, the ModelZoo's 310 inference step.
//
//   main --mindir_path=MODEL --input0_path=DIR [--output_path=DIR] [--backend=mindspore|onnxruntime]
//        [--device_id=N] [--warmup_runs=N]
//
// Every .bin file directly in DIR, in name order, is one batch of raw float32 clips, N, C, T, H, W (what
// preprocess.py writes). Each file's size is checked against the model's input before anything runs; then
// each batch is run and the program writes, under --output_path (default: the current folder):
//   result_Files/<file stem>_0.bin         the logits, raw float32, N x num_classes (what postprocess.py reads)
//   result_Files/manifest.txt              the names of those files: a re-run deletes them and nothing else (a
//                                          result_Files holding any other file is refused)
//   time_Result/test_perform_static.txt    average latency per batch and throughput (the ModelZoo's report)
//
// Backends (chosen at build time by build.sh, at run time by --backend; the default is the first built):
//   mindspore    MindSpore's C++ API on an Ascend 310/310P device (--device_id); runs a .mindir
//   onnxruntime  ONNX Runtime on the CPU; runs the .onnx export, so the harness can be checked without Ascend
// --model_path is another name for --mindir_path. --warmup_runs (default 1) untimed runs on the first batch
// keep one-off start-up work (memory arenas, graph compilation) out of the latency.
// Exit status: 0 done, 1 an error (the message names the file and what was expected), 2 a usage error.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "batch_files.h"
#include "inference_backend.h"

#if !defined(WITH_MINDSPORE) && !defined(WITH_ONNXRUNTIME)
#error "no backend: CMake defines WITH_MINDSPORE and/or WITH_ONNXRUNTIME"
#endif

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kBuiltBackends = {
#ifdef WITH_MINDSPORE
    "mindspore",
#endif
#ifdef WITH_ONNXRUNTIME
    "onnxruntime",
#endif
};

struct Options {
  std::string model_path;
  std::string input_path;
  std::string output_path = ".";
  std::string backend = kBuiltBackends.front();
  uint32_t device_id = 0;
  int warmup_runs = 1;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string Join(const std::vector<std::string>& items, const std::string& separator) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : separator) + item;
  return joined;
}

void PrintHelp() {
  std::cout << "Usage: main --mindir_path=MODEL --input0_path=DIR [options]\n"
               "Runs an exported I3D on every .bin batch in DIR (raw float32 N,C,T,H,W, in name order) and writes\n"
               "  OUTPUT/result_Files/<file stem>_0.bin       raw float32 logits, N x num_classes\n"
               "  OUTPUT/result_Files/manifest.txt            their names (a re-run replaces those files, no others)\n"
               "  OUTPUT/time_Result/test_perform_static.txt  average latency per batch and throughput\n"
               "Options (--name=value or --name value):\n"
               "  --mindir_path=FILE  the model: .mindir for mindspore, .onnx for onnxruntime (alias --model_path)\n"
               "  --input0_path=DIR   the folder of input batches\n"
               "  --output_path=DIR   where result_Files/ and time_Result/ go (default: .)\n"
               "  --backend=NAME      mindspore (Ascend 310/310P) or onnxruntime (CPU); built in this binary: "
            << Join(kBuiltBackends, ", ") << " (default " << kBuiltBackends.front() << ")\n"
            << "  --device_id=N       Ascend device for mindspore (default 0)\n"
               "  --warmup_runs=N     untimed runs on the first batch before timing (default 1)\n";
}

long ParseNumber(const std::string& name, const std::string& text) {
  std::size_t end = 0;
  long value = -1;
  try {
    value = std::stol(text, &end);
  } catch (const std::exception&) {
  }
  if (end != text.size() || value < 0) throw UsageError("--" + name + " needs a whole number >= 0, got '" + text + "'");
  return value;
}

// gflags-style flags (--name=value or --name value), as the ModelZoo's programs take them; no library needed.
Options ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      PrintHelp();
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::string value;
    if (const auto equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name.resize(equals);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      throw UsageError("--" + name + " needs a value");
    }
    values[name == "model_path" ? "mindir_path" : name] = value;
  }
  Options options;
  for (const auto& [name, value] : values) {
    if (name == "mindir_path") options.model_path = value;
    else if (name == "input0_path") options.input_path = value;
    else if (name == "output_path") options.output_path = value;
    else if (name == "backend") options.backend = value;
    else if (name == "device_id") options.device_id = static_cast<uint32_t>(ParseNumber(name, value));
    else if (name == "warmup_runs") options.warmup_runs = static_cast<int>(ParseNumber(name, value));
    else throw UsageError("unknown flag --" + name);
  }
  if (options.model_path.empty()) throw UsageError("--mindir_path (or --model_path) is required");
  if (options.input_path.empty()) throw UsageError("--input0_path is required");
  if (std::find(kBuiltBackends.begin(), kBuiltBackends.end(), options.backend) == kBuiltBackends.end()) {
    throw UsageError("--backend=" + options.backend + " is not built into this binary (built: " +
                     Join(kBuiltBackends, ", ") + "); build.sh adds mindspore with MINDSPORE_PATH, onnxruntime "
                     "with ONNXRUNTIME_PATH");
  }
  return options;
}

std::unique_ptr<InferenceBackend> CreateBackend(const Options& options) {
#ifdef WITH_MINDSPORE
  if (options.backend == "mindspore") return CreateMindSporeBackend(options.model_path, options.device_id);
#endif
#ifdef WITH_ONNXRUNTIME
  if (options.backend == "onnxruntime") return CreateOnnxRuntimeBackend(options.model_path);
#endif
  throw std::logic_error("unhandled backend " + options.backend);
}

std::string ShapeText(const Shape& shape) {
  std::vector<std::string> dims;
  for (const auto dim : shape) dims.push_back(dim < 0 ? "?" : std::to_string(dim));
  return Join(dims, "x");
}

// The shape of the batch in `path`: the model's input shape, with the batch taken from the file's size when
// the model's batch is dynamic. Throws, naming the file and both byte counts, when the size does not fit:
// a batch of the wrong clip size must stop the run, not be cut or padded silently.
Shape BatchShape(const std::string& path, const Shape& model_shape) {
  uintmax_t clip_bytes = sizeof(float);
  for (std::size_t i = 1; i < model_shape.size(); ++i) clip_bytes *= static_cast<uintmax_t>(model_shape[i]);
  const uintmax_t bytes = fs::file_size(path);
  Shape shape = model_shape;
  if (model_shape[0] < 0) {
    if (bytes == 0 || bytes % clip_bytes != 0) {
      throw std::runtime_error(path + ": " + std::to_string(bytes) + " bytes is not a whole number of float32 " +
                               "clips of " + ShapeText(Shape(model_shape.begin() + 1, model_shape.end())) + " (" +
                               std::to_string(clip_bytes) + " bytes each)");
    }
    shape[0] = static_cast<int64_t>(bytes / clip_bytes);
  } else if (const uintmax_t batch_bytes = clip_bytes * static_cast<uintmax_t>(model_shape[0]); bytes != batch_bytes) {
    throw std::runtime_error(path + ": " + std::to_string(bytes) + " bytes, but the model's input " +
                             ShapeText(model_shape) + " float32 needs " + std::to_string(batch_bytes) + " bytes");
  }
  return shape;
}

std::string ResultFileName(const std::string& batch_file) { return fs::path(batch_file).stem().string() + "_0.bin"; }

void CheckModelInput(const std::string& model_path, const Shape& shape) {
  bool fixed_clip = shape.size() == 5;
  for (std::size_t i = 1; fixed_clip && i < shape.size(); ++i) fixed_clip = shape[i] > 0;
  if (!fixed_clip) {
    throw std::runtime_error(model_path + ": the input is " + ShapeText(shape) +
                             "; expected N, C, T, H, W with a fixed clip size (only the batch may be dynamic)");
  }
}

int Run(const Options& options) {
  if (!fs::is_regular_file(options.model_path)) {
    throw std::runtime_error("model file '" + options.model_path + "' does not exist or is not a file");
  }
  const auto files = ListBatchFiles(options.input_path);
  auto backend = CreateBackend(options);
  const Shape model_shape = backend->InputShape();
  CheckModelInput(options.model_path, model_shape);
  std::vector<Shape> shapes;
  for (const auto& file : files) shapes.push_back(BatchShape(file, model_shape));  // all, before the first run

  const fs::path result_dir = fs::path(options.output_path) / "result_Files";
  std::vector<std::string> result_names;
  for (const auto& file : files) result_names.push_back(ResultFileName(file));
  PrepareResultFolder(result_dir.string(), result_names);  // no stale results of an earlier run are left
  double total_ms = 0.0;
  int64_t total_clips = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto input = ReadFloatFile(files[i]);
    for (int run = 0; i == 0 && run < options.warmup_runs; ++run) backend->Run(input, shapes[i]);
    const auto start = std::chrono::steady_clock::now();
    const auto logits = backend->Run(input, shapes[i]);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    WriteFloatFile((result_dir / result_names[i]).string(), logits);
    total_ms += ms;
    total_clips += shapes[i][0];
    std::cout << files[i] << ": " << ShapeText(shapes[i]) << " in " << ms << " ms\n";
  }

  std::ostringstream report;
  report << "NN inference cost average time: " << total_ms / files.size() << " ms of infer_count " << files.size()
         << "\nNN inference throughput: " << total_clips * 1000.0 / total_ms << " clips/s (" << total_clips
         << " clips, backend " << options.backend << ")\n";
  const fs::path time_file = fs::path(options.output_path) / "time_Result" / "test_perform_static.txt";
  fs::create_directories(time_file.parent_path());
  std::ofstream time_stream(time_file);
  if (!(time_stream << report.str() << std::flush)) {
    throw std::runtime_error(time_file.string() + ": cannot be written");
  }
  std::cout << report.str() << "results in " << result_dir.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = ParseFlags(argc, argv);
  } catch (const UsageError& error) {
    std::cerr << "main: " << error.what() << " (--help lists the flags)\n";
    return 2;
  }
  try {
    return Run(options);
  } catch (const std::exception& error) {
    std::cerr << "main: error: " << error.what() << "\n";
    return 1;
  }
}
