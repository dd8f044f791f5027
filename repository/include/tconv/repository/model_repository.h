// ModelRepository: the layers' copy on disk, one folder per layer (format in README.md):
//
//   <dir>/<name>/config.json   {"keras": <get_config()>, "in_channels": C, "created": ...,
//                               "batching": {...}}  — or a plain Keras config written by hand
//   <dir>/<name>/kernel.npy    float32 (kh, kw, filters, in_channels)
//   <dir>/<name>/bias.npy      float32 (filters), only when use_bias
//
// Every write is crash-safe: a layer is written completely into a hidden temp folder (each
// file fsynced, then the folder), then renamed into place and the parent directory fsynced.
// After a crash the repository holds either the old or the new complete version of a layer,
// never a mix; Open() finishes or rolls back what a crash interrupted.
//
// Not thread-safe for writes: the LayerManager serializes Save/Remove/Open. Loads only read.
#ifndef TCONV_REPOSITORY_MODEL_REPOSITORY_H_
#define TCONV_REPOSITORY_MODEL_REPOSITORY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/repository/batching_options.h"
#include "tconv/repository/layer_name.h"  // ValidateLayerName, for folder names

namespace tconv::server {

// One layer as stored: enough to rebuild it bit-identically.
struct StoredLayer {
  LayerConfig config;
  int64_t in_channels = 0;
  LayerWeights weights;                     // kernel (kh, kw, filters, in_channels), bias
  std::optional<BatchingOptions> batching;  // nullopt: follow the server's defaults
  std::optional<absl::Time> created;        // nullopt in a hand-written folder
  // Raised by every replace (see LayerManager); kept on disk so a restart serves the same one.
  int64_t version = 1;
};

class ModelRepository {
 public:
  struct Options {
    std::string dir;  // created (with parents) when missing
    // Fills the fields a layer's "batching" object leaves out.
    BatchingOptions default_batching;
  };

  // Creates the directory if needed and cleans up after an interrupted write (see the file
  // comment). FAILED_PRECONDITION when the directory cannot be created or written.
  static absl::StatusOr<std::unique_ptr<ModelRepository>> Open(Options options);

  const std::string& dir() const { return options_.dir; }

  // Names of every layer folder, sorted; hidden (.*) entries and plain files are skipped.
  // A folder whose name is not a valid layer name is listed too (Load reports why).
  std::vector<std::string> List() const;
  bool Contains(const std::string& name) const;

  // Reads and checks one folder: INVALID_ARGUMENT with the file and the reason for bad JSON,
  // a bad .npy, weights whose shape does not fit the config, or non-finite weights; NOT_FOUND
  // without such a folder.
  absl::StatusOr<StoredLayer> Load(const std::string& name) const;
  // The version a folder records (1 when it records none), reading config.json only; for a
  // folder that cannot be loaded, so that replacing it still raises the number.
  absl::StatusOr<int64_t> StoredVersion(const std::string& name) const;

  // Writes the layer atomically, replacing any previous version. On error the previous
  // version (or absence) is left in place.
  absl::Status Save(const std::string& name, const StoredLayer& layer);

  // Removes the layer's folder atomically (rename away, then delete). NOT_FOUND if absent.
  absl::Status Remove(const std::string& name);

 private:
  explicit ModelRepository(Options options) : options_(std::move(options)) {}
  std::string PathOf(const std::string& name) const { return options_.dir + "/" + name; }
  std::string TempPath(const std::string& kind, const std::string& name);
  absl::Status Commit(const std::string& temp, const std::string& name);

  Options options_;
  int64_t temp_counter_ = 0;
};

}  // namespace tconv::server

#endif  // TCONV_REPOSITORY_MODEL_REPOSITORY_H_
