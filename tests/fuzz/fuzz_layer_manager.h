// A real LayerManager over a repository in a RAM-backed folder, for the targets whose decoded
// request goes on to CreateLayer the way the services do (validation, weights, batcher, the
// crash-safe write). One per process; the folder is removed at exit.
#ifndef TCONV_TESTS_FUZZ_FUZZ_LAYER_MANAGER_H_
#define TCONV_TESTS_FUZZ_FUZZ_LAYER_MANAGER_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fuzz_check.h"
#include "server/core/layer_manager.h"

namespace tconv::fuzz {

inline server::LayerManager& TheLayerManager() {
  static server::LayerManager* manager = [] {
    namespace fs = std::filesystem;
    const char* base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    static const std::string dir =
        std::string(base) + "/tconv-fuzz-manager." + std::to_string(::getpid());
    fs::remove_all(dir);
    std::atexit([] { std::filesystem::remove_all(dir); });
    server::LayerManager::Options options;
    options.repository_dir = dir;
    options.executor = server::BatchExecutor::Create({/*threads=*/1}).value();
    auto created = server::LayerManager::Create(std::move(options));
    TCONV_FUZZ_CHECK(created.ok());
    return created->release();
  }();
  return *manager;
}

// Weights drawn from the initializers cost memory in proportion to kh*kw*filters*in_channels,
// up to LayerLimits (1 GiB): a size the server accepts by design but beyond the fuzzer's
// memory limit. Specs that would draw more than this many values are not sent on.
inline constexpr int64_t kMaxDrawnWeights = int64_t{1} << 20;

// Sends the spec to CreateLayer (skipping costly draws, see above) and checks the answer is a
// success or a refusal with a code the services may return for a bad request; a created layer
// is deleted again so the repository stays small.
inline void CreateAndDelete(server::LayerSpec spec) {
  if (spec.kernel.empty()) {
    auto config = LayerConfig::FromJson(spec.config_json);
    // Validated configs keep kh*kw*filters <= 2^28, so with in_channels <= 2^16 this fits.
    if (config.ok() && spec.in_channels > 0 && spec.in_channels <= LayerLimits::kMaxInChannels &&
        config->kernel_size[0] * config->kernel_size[1] * config->filters * spec.in_channels >
            kMaxDrawnWeights) {
      return;
    }
  }
  const std::string name = spec.name;
  auto created = TheLayerManager().CreateLayer(std::move(spec));
  if (!created.ok()) {
    const absl::StatusCode code = created.status().code();
    TCONV_FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
                     code == absl::StatusCode::kAlreadyExists);
    return;
  }
  TCONV_FUZZ_CHECK(created->name == name);
  TCONV_FUZZ_CHECK(TheLayerManager().DeleteLayer(name).ok());
}

}  // namespace tconv::fuzz

#endif  // TCONV_TESTS_FUZZ_FUZZ_LAYER_MANAGER_H_
