#include "batch_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
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

namespace {
const char kResultManifest[] = "manifest.txt";
}  // namespace

void PrepareResultFolder(const std::string& folder, const std::vector<std::string>& names) {
  const fs::path manifest = fs::path(folder) / kResultManifest;
  const fs::path manifest_tmp = manifest.string() + ".tmp";
  std::set<std::string> recorded;
  if (fs::is_regular_file(manifest)) {
    std::ifstream file(manifest);
    for (std::string name; std::getline(file, name);) {
      // Plain names of files in `folder` only: an edited list must not reach anything outside it.
      if (!name.empty() && name != "." && name != ".." && fs::path(name).filename() == name) recorded.insert(name);
    }
  }
  if (fs::is_directory(folder)) {
    for (const auto& entry : fs::directory_iterator(folder)) {
      const std::string name = entry.path().filename().string();
      if (entry.path() == manifest || entry.path() == manifest_tmp || recorded.count(name)) continue;
      throw std::runtime_error("result folder '" + folder + "' holds '" + name + "', which this program did not " +
                               "write (not listed in " + manifest.string() + "); move it away or choose another " +
                               "--output_path");
    }
  }
  for (const auto& name : recorded) fs::remove(fs::path(folder) / name);
  fs::create_directories(folder);
  {
    std::ofstream file(manifest_tmp);
    for (const auto& name : names) file << name << "\n";
    if (!file.flush()) throw std::runtime_error(manifest_tmp.string() + ": cannot be written");
  }
  fs::rename(manifest_tmp, manifest);  // whole or absent: a truncated list would make the program's files foreign
}
