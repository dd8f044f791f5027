#include "loadgen.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "flags.h"
#include "remote_common.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::tool {
namespace {

// --rpc: what each request is.
enum class Rpc {
  kInfer,         // ModelInfer with the tensors in the messages
  kLive,          // ServerLive, the empty RPC (the floor ModelInfer is compared with)
  kSharedMemory,  // ModelInfer with the tensors in system shared memory regions
};

struct LoadgenConfig {
  Rpc rpc = Rpc::kInfer;
  std::string layer;
  std::vector<int64_t> shape;
  int concurrency = 1;
  std::optional<int64_t> requests;  // exactly this many, else for `duration`
  absl::Duration duration = absl::Seconds(10);
  uint64_t seed = 1;
  bool progress = false;
};

// What one caller saw; merged after the run.
struct CallerResult {
  std::vector<absl::Duration> ok_latencies;
  std::map<absl::StatusCode, int64_t> errors;
  std::map<absl::StatusCode, std::string> first_message;
};

// Progress counters shared by the callers and the progress line.
struct Counters {
  std::atomic<int64_t> started{0};
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> failed{0};
};

absl::StatusOr<std::vector<int64_t>> ParseShape(const std::string& text) {
  std::vector<int64_t> shape;
  int64_t elements = 1;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t dim = 0;
    if (!absl::SimpleAtoi(part, &dim) || dim < 1 ||
        __builtin_mul_overflow(elements, dim, &elements)) {
      break;
    }
    shape.push_back(dim);
  }
  if (shape.size() != 4 || elements > (int64_t{1} << 28)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--input_shape must be 4 positive integers B,H,W,C with at most 2^28 elements, got \"",
        text, "\""));
  }
  return shape;
}

absl::StatusOr<LoadgenConfig> ParseConfig(const Flags& flags) {
  LoadgenConfig config;
  const std::string rpc = flags.Get("rpc").value_or("infer");
  if (rpc != "infer" && rpc != "live" && rpc != "shm") {
    return absl::InvalidArgumentError(
        absl::StrCat("--rpc must be infer, live or shm, got \"", rpc, "\""));
  }
  config.rpc = rpc == "live" ? Rpc::kLive : rpc == "shm" ? Rpc::kSharedMemory : Rpc::kInfer;
  if (config.rpc == Rpc::kLive) {
    config.shape = {1, 1, 1, 1};  // unused: no tensor travels
  } else {
    config.layer = flags.Get("layer").value_or("");
    if (config.layer.empty()) return absl::InvalidArgumentError("--layer is required");
    if (!flags.Has("input_shape")) return absl::InvalidArgumentError("--input_shape is required");
    ASSIGN_OR_RETURN(config.shape, ParseShape(*flags.Get("input_shape")));
  }
  ASSIGN_OR_RETURN(const int64_t concurrency, flags.GetInt("concurrency", 1, 1, 1024));
  config.concurrency = static_cast<int>(concurrency);
  if (flags.Has("requests") && flags.Has("duration")) {
    return absl::InvalidArgumentError("--requests and --duration exclude each other");
  }
  if (flags.Has("requests")) {
    ASSIGN_OR_RETURN(config.requests, flags.GetInt("requests", 0, 1, int64_t{1} << 40));
  } else {
    ASSIGN_OR_RETURN(config.duration,
                     flags.GetDuration("duration", absl::Seconds(10), absl::Hours(24)));
  }
  ASSIGN_OR_RETURN(const int64_t seed, flags.GetInt("seed", 1, 0, INT64_MAX));
  config.seed = static_cast<uint64_t>(seed);
  // Explicit --progress=true/false wins; otherwise shown on a terminal.
  ASSIGN_OR_RETURN(config.progress, flags.GetBool("progress", isatty(STDERR_FILENO) == 1));
  return config;
}

// A few distinct random inputs, drawn once so that the run measures the server, not the RNG;
// callers take turns with them. Bounded so that large shapes at high concurrency fit memory.
std::vector<std::vector<float>> RandomInputs(const LoadgenConfig& config) {
  int64_t elements = 1;
  for (int64_t dim : config.shape) elements *= dim;
  std::mt19937_64 engine(config.seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<std::vector<float>> inputs(std::min(config.concurrency, 4));
  for (std::vector<float>& input : inputs) {
    input.resize(static_cast<size_t>(elements));
    for (float& value : input) value = uniform(engine);
  }
  return inputs;
}

// --rpc=shm: one caller's POSIX shared memory object, registered with the server for the run as
// one region: the caller's input, then room for the answer. The server must be on this host.
class CallerRegion {
 public:
  static absl::StatusOr<std::unique_ptr<CallerRegion>> Create(const Remote& remote, int caller,
                                                              const std::vector<float>& input,
                                                              uint64_t output_bytes) {
    const uint64_t input_bytes = input.size() * sizeof(float);
    auto region = std::unique_ptr<CallerRegion>(new CallerRegion(remote, caller));
    region->size_ = input_bytes + output_bytes;
    const int fd = shm_open(region->key_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("shm_open ", region->key_));
    region->unlink_ = true;
    const bool sized = ftruncate(fd, static_cast<off_t>(region->size_)) == 0;
    void* data = sized ? mmap(nullptr, region->size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                       : MAP_FAILED;
    const int error = errno;
    close(fd);
    if (data == MAP_FAILED) return absl::ErrnoToStatus(error, "sizing or mapping the region");
    region->data_ = data;
    std::memcpy(data, input.data(), input_bytes);
    RETURN_IF_ERROR(remote.client->RegisterSystemSharedMemory(region->name_, region->key_, 0,
                                                              region->size_, remote.call));
    region->registered_ = true;
    region->input_ = {region->name_, 0, input_bytes};
    region->output_ = {region->name_, input_bytes, output_bytes};
    return region;
  }
  ~CallerRegion() {
    if (registered_) (void)remote_.client->UnregisterSystemSharedMemory(name_, remote_.call);
    if (data_ != nullptr) munmap(data_, size_);
    if (unlink_) shm_unlink(key_.c_str());
  }
  CallerRegion(const CallerRegion&) = delete;
  CallerRegion& operator=(const CallerRegion&) = delete;

  const client::SharedMemoryRef& input() const { return input_; }
  const client::SharedMemoryRef& output() const { return output_; }

 private:
  CallerRegion(const Remote& remote, int caller)
      : remote_(remote),
        name_(absl::StrCat("loadgen_", getpid(), "_", caller)),
        key_(absl::StrCat("/tconv_loadgen_", getpid(), "_", caller)) {}

  const Remote& remote_;
  const std::string name_;
  const std::string key_;
  uint64_t size_ = 0;
  void* data_ = nullptr;
  bool unlink_ = false;
  bool registered_ = false;
  client::SharedMemoryRef input_;
  client::SharedMemoryRef output_;
};

// One request of the kind --rpc asks for; `region` only for --rpc=shm.
absl::Status Call(const LoadgenConfig& config, const Remote& remote,
                  const std::vector<float>& input, const CallerRegion* region) {
  switch (config.rpc) {
    case Rpc::kLive:
      return remote.client->ServerLive(remote.call).status();
    case Rpc::kSharedMemory:
      return remote.client
          ->InferSharedMemory(config.layer, config.shape, region->input(), region->output(),
                              remote.call)
          .status();
    case Rpc::kInfer:
      break;
  }
  return remote.client->Infer(config.layer, input, config.shape, remote.call).status();
}

// One caller's closed loop until the request budget or the time is used up.
CallerResult RunCaller(const LoadgenConfig& config, const Remote& remote,
                       const std::vector<float>& input, const CallerRegion* region, absl::Time stop,
                       Counters& counters) {
  CallerResult result;
  while (config.requests ? counters.started.fetch_add(1) < *config.requests : absl::Now() < stop) {
    const auto start = std::chrono::steady_clock::now();
    const absl::Status answer = Call(config, remote, input, region);
    const absl::Duration latency = absl::FromChrono(std::chrono::steady_clock::now() - start);
    if (answer.ok()) {
      result.ok_latencies.push_back(latency);
    } else {
      const absl::StatusCode code = answer.code();
      if (result.errors[code]++ == 0) result.first_message[code] = std::string(answer.message());
      counters.failed.fetch_add(1);
    }
    counters.done.fetch_add(1);
  }
  return result;
}

// Redraws the progress line every 250 ms until every caller has finished.
void ShowProgress(const Counters& counters, absl::Time start, const std::atomic<bool>& finished) {
  int64_t last_done = 0;
  absl::Time last = start;
  while (!finished.load()) {
    absl::SleepFor(absl::Milliseconds(250));
    const absl::Time now = absl::Now();
    const int64_t done = counters.done.load();
    const double rate = (done - last_done) / std::max(absl::ToDoubleSeconds(now - last), 1e-9);
    std::fprintf(stderr, "\r%7.1f s  %10lld requests  %9.1f requests/s  %lld errors   ",
                 absl::ToDoubleSeconds(now - start), static_cast<long long>(done), rate,
                 static_cast<long long>(counters.failed.load()));
    std::fflush(stderr);
    last_done = done;
    last = now;
  }
  std::fprintf(stderr, "\n");
}

double PercentileMs(const std::vector<absl::Duration>& sorted, double fraction) {
  // Nearest rank: the smallest latency that at least `fraction` of the requests did not exceed.
  const size_t rank = static_cast<size_t>(std::ceil(fraction * sorted.size()));
  return absl::ToDoubleMilliseconds(sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1]);
}

// Prints the summary; returns the number of requests answered OK.
int64_t PrintSummary(const LoadgenConfig& config, std::vector<CallerResult>& results,
                     absl::Duration elapsed) {
  CallerResult all;
  for (CallerResult& result : results) {
    all.ok_latencies.insert(all.ok_latencies.end(), result.ok_latencies.begin(),
                            result.ok_latencies.end());
    for (const auto& [code, count] : result.errors) {
      if ((all.errors[code] += count) == count)
        all.first_message[code] = result.first_message[code];
    }
  }
  const int64_t ok = static_cast<int64_t>(all.ok_latencies.size());
  int64_t failed = 0;
  for (const auto& [code, count] : all.errors) failed += count;
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-9);
  if (config.rpc == Rpc::kLive) {
    std::cout << "rpc:          ServerLive (empty), concurrency " << config.concurrency << "\n";
  } else {
    std::cout << "layer:        " << config.layer << " input " << FormatShape(config.shape)
              << ", concurrency " << config.concurrency
              << (config.rpc == Rpc::kSharedMemory ? ", tensors in system shared memory" : "")
              << "\n";
  }
  std::cout << absl::StrFormat("requests:     %d sent, %d ok, %d failed in %.3f s\n", ok + failed,
                               ok, failed, seconds);
  if (config.rpc == Rpc::kLive) {
    std::cout << absl::StrFormat("throughput:   %.1f requests/s\n", ok / seconds);
  } else {
    std::cout << absl::StrFormat("throughput:   %.1f requests/s, %.1f examples/s\n", ok / seconds,
                                 ok * config.shape[0] / seconds);
  }
  std::sort(all.ok_latencies.begin(), all.ok_latencies.end());
  if (ok > 0) {
    std::cout << absl::StrFormat(
        "latency_ms:   p50=%.3f p90=%.3f p99=%.3f max=%.3f\n", PercentileMs(all.ok_latencies, 0.5),
        PercentileMs(all.ok_latencies, 0.9), PercentileMs(all.ok_latencies, 0.99),
        absl::ToDoubleMilliseconds(all.ok_latencies.back()));
  } else {
    std::cout << "latency_ms:   n/a (no request succeeded)\n";
  }
  std::cout << "errors:       " << (all.errors.empty() ? "none" : "") << "\n";
  for (const auto& [code, count] : all.errors) {
    std::cout << "  " << absl::StatusCodeToString(code) << "=" << count
              << "  (first: " << all.first_message[code] << ")\n";
  }
  return ok;
}

// Runs the callers (and the progress line) and prints the summary; the exit status. All callers
// share one Client, i.e. one channel and one HTTP/2 connection with a stream per call: that is
// how one client process talks to tconv, and more Clients to the same address would not give
// more connections anyway (gRPC's global subchannel pool shares one connection between
// channels with the same target and arguments).
int RunLoad(const LoadgenConfig& config, const Remote& remote) {
  const std::vector<std::vector<float>> inputs = RandomInputs(config);
  // --rpc=shm: a region per caller, sized by one ordinary call's answer (made before the clock
  // starts), unregistered and removed when the run ends.
  std::vector<std::unique_ptr<CallerRegion>> regions(config.concurrency);
  if (config.rpc == Rpc::kSharedMemory) {
    absl::StatusOr<client::Tensor> answer =
        remote.client->Infer(config.layer, inputs[0], config.shape, remote.call);
    if (!answer.ok()) return ReportFailure(kLoadgenCommand.name, answer.status());
    for (int i = 0; i < config.concurrency; ++i) {
      absl::StatusOr<std::unique_ptr<CallerRegion>> region = CallerRegion::Create(
          remote, i, inputs[i % inputs.size()], answer->values.size() * sizeof(float));
      if (!region.ok()) return ReportFailure(kLoadgenCommand.name, region.status());
      regions[i] = *std::move(region);
    }
  }
  Counters counters;
  std::vector<CallerResult> results(config.concurrency);
  std::atomic<bool> finished{false};
  const absl::Time start = absl::Now();
  std::thread progress;
  if (config.progress) progress = std::thread([&] { ShowProgress(counters, start, finished); });
  std::vector<std::thread> callers;
  for (int i = 0; i < config.concurrency; ++i) {
    callers.emplace_back([&, i] {
      results[i] = RunCaller(config, remote, inputs[i % inputs.size()], regions[i].get(),
                             start + config.duration, counters);
    });
  }
  for (std::thread& caller : callers) caller.join();
  const absl::Duration elapsed = absl::Now() - start;
  finished.store(true);
  if (progress.joinable()) progress.join();
  return PrintSummary(config, results, elapsed) > 0 ? kExitOk : kExitFailure;
}

}  // namespace

int RunLoadgenCommand(const std::vector<std::string>& args) {
  const FlagSpec specs[] = {{"layer"},      {"input_shape"}, {"concurrency"},    {"duration"},
                            {"requests"},   {"seed"},        {"progress", true}, {"server"},
                            {"timeout"},    {"tls_ca_file"}, {"tls_cert_file"},  {"tls_key_file"},
                            {"token_file"}, {"rpc"}};
  absl::StatusOr<Flags> flags = Flags::Parse(args, specs);
  absl::StatusOr<LoadgenConfig> config =
      flags.ok() ? ParseConfig(*flags) : absl::StatusOr<LoadgenConfig>(flags.status());
  absl::StatusOr<Remote> remote =
      config.ok() ? Connect(*flags) : absl::StatusOr<Remote>(config.status());
  if (remote.ok() && !flags->positional().empty()) {
    remote = absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", flags->positional()[0], "\""));
  }
  if (!remote.ok()) {
    return ReportUsage(kLoadgenCommand.name, kLoadgenCommand.usage,
                       std::string(remote.status().message()));
  }
  // Connects before the clock starts, and fails fast when no server answers.
  absl::StatusOr<bool> live = remote->client->ServerLive(remote->call);
  if (!live.ok()) return ReportFailure(kLoadgenCommand.name, live.status());
  return RunLoad(*config, *remote);
}

}  // namespace tconv::tool
