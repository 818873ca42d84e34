// Reading and writing the raw float32 .bin files that preprocess.py writes and postprocess.py reads.
#ifndef I3D_INFER_BATCH_FILES_H_
#define I3D_INFER_BATCH_FILES_H_

#include <string>
#include <vector>

// The .bin files directly inside `folder`, sorted by name (the order preprocess.py numbered them in).
// Throws std::runtime_error when the folder is missing or holds no .bin file.
std::vector<std::string> ListBatchFiles(const std::string& folder);

// The whole file as float32 values (main.cc has checked its size against the model's input beforehand).
std::vector<float> ReadFloatFile(const std::string& path);

// Writes `values` as raw float32, creating the parent folders. Throws when the file cannot be written.
void WriteFloatFile(const std::string& path, const std::vector<float>& values);

// Makes `folder` ready for a run that writes `names`: deletes the files an earlier run wrote (its manifest,
// folder/manifest.txt, lists them one name a line) and records `names` in a new manifest before any of them is written, so a killed run's files are
// known too. Throws, naming it and deleting nothing, when the folder holds a file no run of the program wrote.
void PrepareResultFolder(const std::string& folder, const std::vector<std::string>& names);

#endif  // I3D_INFER_BATCH_FILES_H_
