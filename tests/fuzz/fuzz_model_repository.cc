// The repository folder reader (ModelRepository::Load): a folder written by hand or by another
// tconv, read at start and on RepositoryModelLoad. The input holds config.json, kernel.npy and
// bias.npy (fuzz_files.h; a file missing from the input is missing from the folder), written
// into a real folder of a real repository. Whatever Load accepts goes on to
// Conv2DTranspose::Create as the LayerManager does, which may refuse it only with
// INVALID_ARGUMENT.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "fuzz_check.h"
#include "fuzz_files.h"
#include "tconv/repository/model_repository.h"

namespace {

namespace fs = std::filesystem;

struct Folder {
  std::unique_ptr<tconv::server::ModelRepository> repository;
  std::string layer_dir;
};

Folder& TheFolder() {
  static Folder* folder = [] {
    // A RAM-backed folder when there is one: the target writes three files per input.
    const char* base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string dir = std::string(base) + "/tconv-fuzz-repository." + std::to_string(::getpid());
    fs::remove_all(dir);
    tconv::server::ModelRepository::Options options;
    options.dir = dir;
    auto repository = tconv::server::ModelRepository::Open(options);
    if (!repository.ok()) {
      std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(),
                   repository.status().ToString().c_str());
      std::abort();
    }
    fs::create_directory(dir + "/layer");
    std::atexit([] { fs::remove_all(TheFolder().repository->dir()); });
    return new Folder{std::move(*repository), dir + "/layer"};
  }();
  return *folder;
}

void WriteOrRemove(const std::string& path, const std::string_view* contents) {
  if (contents == nullptr) {
    fs::remove(path);
    return;
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(contents->data(), static_cast<std::streamsize>(contents->size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Folder& folder = TheFolder();
  const auto files =
      tconv::fuzz::SplitFiles(std::string_view(reinterpret_cast<const char*>(data), size));
  const char* names[] = {"config.json", "kernel.npy", "bias.npy"};
  for (size_t i = 0; i < 3; ++i) {
    WriteOrRemove(folder.layer_dir + "/" + names[i], i < files.size() ? &files[i] : nullptr);
  }
  auto stored = folder.repository->Load("layer");
  if (!stored.ok()) {
    TCONV_FUZZ_CHECK(stored.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  auto layer = tconv::Conv2DTranspose::Create(stored->config, stored->in_channels,
                                              std::move(stored->weights));
  TCONV_FUZZ_CHECK(layer.ok() || layer.status().code() == absl::StatusCode::kInvalidArgument);
  return 0;
}
