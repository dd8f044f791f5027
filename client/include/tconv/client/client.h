// tconv::client — the C++ client of a tconv server: the control plane (tconv.v1.LayerService),
// inference and metadata through the Open Inference Protocol (inference.GRPCInferenceService)
// and the standard grpc.health.v1 health check.
//
//   ASSIGN_OR_RETURN(auto client, tconv::client::Client::Create("dns:///tconv:8001", {}));
//   ASSIGN_OR_RETURN(tconv::client::LayerInfo layer, client->CreateLayer(spec));
//   ASSIGN_OR_RETURN(tconv::client::Tensor out, client->Infer("gen1", input, {1, 7, 7, 256}));
//
// Every call has a deadline (CallOptions::timeout, else Options::default_timeout). Errors are
// the server's gRPC status carried over unchanged as absl::Status (same code, same message);
// gRPC's own failures keep their code too (UNAVAILABLE when no server answers,
// DEADLINE_EXCEEDED when the deadline passes, RESOURCE_EXHAUSTED for a message too large).
//
// A Client is thread-safe: share one between threads (it holds one channel; with a
// dns:/// target that channel balances calls round-robin over every resolved address).
#ifndef TCONV_CLIENT_CLIENT_H_
#define TCONV_CLIENT_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"

namespace tconv::client {

// The client's one conversion of a gRPC status: same code, same message. A code outside the
// canonical set becomes UNKNOWN naming the code.
absl::Status FromGrpcStatus(const grpc::Status& status);

struct Options {
  // Deadline of a call that sets none. Generous enough for a large batch on a loaded server;
  // tools and services should set per-call timeouts that fit their own budgets.
  absl::Duration default_timeout = absl::Seconds(30);
  // Largest message sent or received, bytes. gRPC's default (4 MiB) is below one 256x256x3
  // batch of 8; the server enforces its own limit and answers RESOURCE_EXHAUSTED above it.
  int max_message_bytes = 1 << 30;
  // Transport security; null = plaintext (grpc::InsecureChannelCredentials()). Pass
  // grpc::SslCredentials(...) for TLS.
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
  // Metadata sent with every call, e.g. {"authorization", "Bearer <token>"}. Keys lower-case.
  std::vector<std::pair<std::string, std::string>> metadata;
};

struct CallOptions {
  // This call's deadline, counted from when it starts; unset = Options::default_timeout,
  // absl::InfiniteDuration() = none.
  std::optional<absl::Duration> timeout;
};

// A dense float32 tensor, row-major.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Per-layer dynamic batching; 0 = the server's default.
struct Batching {
  int64_t max_batch_size = 0;
  absl::Duration batch_timeout = absl::ZeroDuration();
  int64_t max_queue_size = 0;
};

// What CreateLayer sends (see tconv/v1/layer_service.proto).
struct LayerSpec {
  std::string name;
  std::string config_json;  // Keras get_config() or {"class_name": ..., "config": ...}
  // Keras layout (kh, kw, filters, in_channels). Empty = weights drawn by the server from the
  // config's initializers with `seed`; then `in_channels` is required.
  std::vector<float> kernel;
  std::vector<int64_t> kernel_shape;
  std::vector<float> bias;  // (filters); empty when use_bias is false
  int64_t in_channels = 0;
  uint64_t seed = 0;
  std::optional<Batching> batching;  // unset = the server's defaults
  bool replace = false;              // replace a layer of that name instead of ALREADY_EXISTS
};

// output = stride * input + offset along one spatial axis.
struct AxisRule {
  int64_t stride = 0;
  int64_t offset = 0;
};

struct ShapeRule {
  std::string data_format;           // "channels_last" or "channels_first"
  std::vector<int64_t> input_shape;  // -1 = varies per request
  std::vector<int64_t> output_shape;
  AxisRule height;
  AxisRule width;
  std::string formula;  // for people, e.g. "H_out = 2*H + 3, W_out = 2*W + 3"
};

struct LayerInfo {
  std::string name;
  std::string config_json;  // normalised, Keras get_config() form
  int64_t in_channels = 0;
  std::vector<int64_t> kernel_shape;
  uint64_t weight_checksum = 0;  // FNV-1a 64 of the kernel then bias float32 bytes
  absl::Time created;
  Batching batching;  // effective
  ShapeRule shape_rule;
};

struct ServerMetadata {
  std::string name;
  std::string version;
  std::vector<std::string> extensions;
};

struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;  // -1 = varies per request
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};

struct RepositoryModel {
  std::string name;
  std::string version;
  std::string state;   // "READY", "UNAVAILABLE", ...
  std::string reason;  // why it is not ready
};

// ListLayersWithUnserved: the layers served, and the repository folders that are not (state
// "UNAVAILABLE", reason = the load error or "unloaded"; `version` is left empty).
struct LayerList {
  std::vector<LayerInfo> layers;
  std::vector<RepositoryModel> unserved;
};

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus { kUnknown, kServing, kNotServing, kServiceUnknown };
std::string_view ServingStatusName(ServingStatus status);

// Called exactly once with the answer, on a gRPC thread: must not block.
// A tensor in a registered system shared memory region: `byte_size` bytes at `offset` from
// the region's start (Triton's system shared memory extension).
struct SharedMemoryRef {
  std::string region;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

using InferCallback = absl::AnyInvocable<void(absl::StatusOr<Tensor>) &&>;

class Client {
 public:
  // `target`: "host:port", "dns:///name:port" (every address of the name, round-robin), or any
  // other gRPC target URI. INVALID_ARGUMENT for an empty target or bad options. Does not
  // connect: the first call does, and answers UNAVAILABLE when no server can be reached.
  static absl::StatusOr<std::unique_ptr<Client>> Create(std::string_view target,
                                                        Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Control plane.
  absl::StatusOr<LayerInfo> CreateLayer(const LayerSpec& spec, const CallOptions& call = {});
  absl::StatusOr<LayerInfo> GetLayer(std::string_view name, const CallOptions& call = {});
  // Sorted by name.
  absl::StatusOr<std::vector<LayerInfo>> ListLayers(const CallOptions& call = {});
  // The same, plus what is in the repository but not served (e.g. a folder that failed to load).
  absl::StatusOr<LayerList> ListLayersWithUnserved(const CallOptions& call = {});
  absl::Status DeleteLayer(std::string_view name, const CallOptions& call = {});

  // One forward pass (ModelInfer, raw FP32 both ways). `shape` is the input's shape in the
  // layer's data_format, batch first; `input` holds its elements.
  absl::StatusOr<Tensor> Infer(std::string_view layer, absl::Span<const float> input,
                               absl::Span<const int64_t> shape, const CallOptions& call = {});
  // The same without blocking: `done` gets the answer. `input` is copied before returning.
  void InferAsync(std::string_view layer, absl::Span<const float> input,
                  absl::Span<const int64_t> shape, InferCallback done,
                  const CallOptions& call = {});

  // Triton's system shared memory extension (client_shared_memory.cc); the server must run on
  // this host (or share /dev/shm with it). The client creates the POSIX object (shm_open,
  // ftruncate) and registers [offset, offset + byte_size) of it as `name`; InferSharedMemory
  // then reads the input from `input` and has the server write the answer into `output`
  // (byte_size at least the answer's), returning the output's shape. Unregister "" = all.
  absl::Status RegisterSystemSharedMemory(std::string_view name, std::string_view key,
                                          uint64_t offset, uint64_t byte_size,
                                          const CallOptions& call = {});
  absl::Status UnregisterSystemSharedMemory(std::string_view name = "",
                                            const CallOptions& call = {});
  absl::StatusOr<std::vector<int64_t>> InferSharedMemory(std::string_view layer,
                                                         absl::Span<const int64_t> shape,
                                                         const SharedMemoryRef& input,
                                                         const SharedMemoryRef& output,
                                                         const CallOptions& call = {});

  // Open Inference Protocol health and metadata. `version` empty = the live version.
  absl::StatusOr<bool> ServerLive(const CallOptions& call = {});
  absl::StatusOr<bool> ServerReady(const CallOptions& call = {});
  absl::StatusOr<bool> ModelReady(std::string_view name, std::string_view version = "",
                                  const CallOptions& call = {});
  absl::StatusOr<ServerMetadata> GetServerMetadata(const CallOptions& call = {});
  absl::StatusOr<ModelMetadata> GetModelMetadata(std::string_view name,
                                                 std::string_view version = "",
                                                 const CallOptions& call = {});

  // The OIP model-repository extension: every model on disk (`ready_only`: only those
  // served), (re)load one from disk, stop serving one but keep it on disk.
  absl::StatusOr<std::vector<RepositoryModel>> RepositoryIndex(bool ready_only = false,
                                                               const CallOptions& call = {});
  absl::Status RepositoryLoad(std::string_view name, const CallOptions& call = {});
  absl::Status RepositoryUnload(std::string_view name, const CallOptions& call = {});

  // grpc.health.v1.Health/Check: "" = the whole server, or a service name such as
  // "inference.GRPCInferenceService". NOT_FOUND for a service the server does not know.
  absl::StatusOr<ServingStatus> Health(std::string_view service = "", const CallOptions& call = {});

  const std::string& target() const { return target_; }

 private:
  struct Stubs;  // the generated stubs (client.cc), kept out of this header
  Client(std::string target, Options options, std::unique_ptr<Stubs> stubs);

  std::string target_;
  Options options_;
  std::unique_ptr<Stubs> stubs_;
};

}  // namespace tconv::client

#endif  // TCONV_CLIENT_CLIENT_H_
