// LayerManager: the server's core — the layers being served (registry), their copy on disk
// (model repository) and their batchers. The gRPC services are thin adapters over this class;
// everything here is testable without a network. Thread-safe.
#ifndef TCONV_SERVER_CORE_LAYER_MANAGER_H_
#define TCONV_SERVER_CORE_LAYER_MANAGER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/batcher.h"
#include "server/core/inference_statistics.h"
#include "server/core/metrics_observer.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::server {

// What a client asks to create.
struct LayerSpec {
  std::string name;         // [A-Za-z0-9][A-Za-z0-9_.-]{0,127}; also the repository folder
  std::string config_json;  // Keras get_config() or {"class_name": ..., "config": ...}
  // Weights, Keras layout. Empty kernel = draw them from the initializers with `seed`, which
  // then needs `in_channels`. With a kernel, kernel_shape = (kh, kw, filters, in_channels).
  std::vector<int64_t> kernel_shape;
  std::vector<float> kernel;
  std::vector<float> bias;
  int64_t in_channels = 0;
  uint64_t seed = 0;
  std::optional<BatchingOptions> batching;  // nullopt: the server's defaults
  bool replace = false;  // replace an existing layer of that name instead of ALREADY_EXISTS
};

// What the server reports about a layer being served.
struct LayerInfo {
  std::string name;
  LayerConfig config;  // normalised
  int64_t in_channels = 0;
  std::array<int64_t, 4> kernel_shape{};  // (kh, kw, filters, in_channels)
  uint64_t weight_checksum = 0;           // FNV-1a 64 over kernel then bias float32 bytes
  absl::Time created;
  BatchingOptions batching;
  // 1 for a new layer; every replace (CreateLayer with replace, or LoadFromRepository of a
  // folder whose content changed) serves version + 1. Persisted in the repository.
  int64_t version = 1;
};

// OK when `requested` is "" or the decimal form of info.version; otherwise NOT_FOUND naming
// the layer, the version asked for and the one served.
absl::Status CheckLayerVersion(const LayerInfo& info, absl::string_view requested);

// One folder of the model repository as found on disk or served.
struct RepositoryEntry {
  std::string name;
  enum class State { kReady, kUnavailable } state = State::kReady;
  std::string reason;   // why it is unavailable (load error, unloaded)
  int64_t version = 0;  // served, or recorded in the folder; 0 = unreadable
};

class LayerManager {
 public:
  struct Options {
    std::string repository_dir = "model_repository";  // created when missing
    // The server's batching defaults (the one place they are set): a layer's fields left at
    // 0 by CreateLayer or by its config.json take these.
    BatchingOptions default_batching;
    std::shared_ptr<BatchExecutor> executor;  // required
    MetricsObserver* observer = nullptr;      // may be null; must outlive the manager
  };

  // Loads every layer found in the repository; a broken entry is logged and reported by
  // Repository() as unavailable, never fatal. Fails only if the directory is unusable.
  static absl::StatusOr<std::unique_ptr<LayerManager>> Create(Options options);
  virtual ~LayerManager() = default;

  // Validates, writes the layer to the repository atomically, then serves it. ALREADY_EXISTS
  // when the name is taken and !spec.replace. A replace never fails in-flight requests.
  virtual absl::StatusOr<LayerInfo> CreateLayer(LayerSpec spec) = 0;
  virtual absl::StatusOr<LayerInfo> GetLayer(const std::string& name) const = 0;
  virtual std::vector<LayerInfo> ListLayers() const = 0;
  // Stops serving and removes the layer's folder. NOT_FOUND when unknown.
  virtual absl::Status DeleteLayer(const std::string& name) = 0;

  // The OIP model-repository extension: every folder, served or not.
  virtual std::vector<RepositoryEntry> Repository() const = 0;
  // The folders not served because their load failed or they were unloaded, with the reason,
  // sorted by name. Never waits for a write (a folder put on disk by hand and never loaded is
  // only in Repository()).
  virtual std::vector<RepositoryEntry> Unserved() const = 0;
  // (Re)loads one folder from disk and serves it (NOT_FOUND without a folder of that name).
  virtual absl::Status LoadFromRepository(const std::string& name) = 0;
  // Stops serving a layer but keeps it on disk.
  virtual absl::Status Unload(const std::string& name) = 0;

  // Runs a forward pass through the layer's batcher; `done` gets NOT_FOUND for an unknown
  // layer or a request.version other than the served one, UNAVAILABLE while draining, or the
  // batcher's answer, with result.version = the version that computed it. A request accepted
  // by a version that is then replaced is still answered by that version.
  virtual void Infer(const std::string& name, InferenceRequest request, InferenceCallback done) = 0;
  // The layer object itself, for metadata (NOT_FOUND when not served).
  virtual absl::StatusOr<std::shared_ptr<const Conv2DTranspose>> FindLayer(
      const std::string& name) const = 0;

  // From now on Infer answers UNAVAILABLE; requests already accepted still complete.
  virtual void StartDraining() = 0;

  // Per layer and version, counted from the events that reach Options.observer (see
  // inference_statistics.h). The transport reports its finished inference RPCs here (it
  // forwards them to Options.observer), so both see every request.
  virtual InferenceStatistics& statistics() = 0;

  // Options.default_batching, for the transport's decoding of CreateLayer.
  virtual const BatchingOptions& default_batching() const = 0;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_CORE_LAYER_MANAGER_H_
