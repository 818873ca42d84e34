#include "batch_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

std::vector<std::string> ListBatchFiles(const std::string& folder) {
  if (!fs::is_directory(folder)) {
    throw std::runtime_error("input folder '" + folder + "' does not exist or is not a folder");
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".bin") files.push_back(entry.path().string());
  }
  if (files.empty()) throw std::runtime_error("input folder '" + folder + "' holds no .bin file");
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<float> ReadFloatFile(const std::string& path) {
  const uintmax_t bytes = fs::file_size(path);
  std::vector<float> values(bytes / sizeof(float));
  std::ifstream file(path, std::ios::binary);
  if (!file.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)))) {
    throw std::runtime_error(path + ": cannot be read");
  }
  return values;
}

void WriteFloatFile(const std::string& path, const std::vector<float>& values) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!file.flush()) throw std::runtime_error(path + ": cannot be written");
}
