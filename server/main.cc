// tconv-server: serves the layers of a model repository over gRPC (the Open Inference Protocol
// and tconv.v1.LayerService) until SIGTERM or SIGINT, then drains and exits 0.
//
// Flags fill the components' Options here and nowhere else.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/grpc/auth.h"
#include "server/grpc/credentials.h"
#include "server/grpc/server.h"
#include "server/metrics/prometheus_metrics.h"
#include "tconv/kernel/status_macros.h"

ABSL_FLAG(std::string, grpc_address, "0.0.0.0:8001",
          "HOST:PORT for gRPC (8001: the Open Inference Protocol's conventional port); "
          "port 0 picks a free port, printed once serving");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:8002",
          "HOST:PORT for Prometheus metrics (/metrics); port 0 picks a free port, printed once "
          "serving; the server refuses to start when it cannot be bound");
ABSL_FLAG(std::string, model_repository, "./model_repository",
          "directory of the layers to serve and persist (created when missing)");
ABSL_FLAG(int, threads, 0, "compute threads for all layers together; 0 = the CPUs available");
ABSL_FLAG(int64_t, max_message_bytes, int64_t{256} << 20,
          "largest gRPC request/response in bytes; larger ones get RESOURCE_EXHAUSTED (an "
          "answer that would be larger is refused before computing it)");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "on SIGTERM/SIGINT, how long in-flight requests may take to finish");
ABSL_FLAG(absl::Duration, max_connection_age, absl::InfiniteDuration(),
          "close client connections after this age so they rebalance across replicas");
ABSL_FLAG(int64_t, max_batch_size, tconv::server::BatchingOptions{}.max_batch_size,
          "default examples per kernel run (a layer's repository config may override)");
ABSL_FLAG(int64_t, batch_timeout_us,
          absl::ToInt64Microseconds(tconv::server::BatchingOptions{}.batch_timeout),
          "default wait of a batch's first request for company, in microseconds");
ABSL_FLAG(int64_t, max_queue_size, tconv::server::BatchingOptions{}.max_queue_size,
          "default examples that may wait per layer before RESOURCE_EXHAUSTED");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: serve gRPC over TLS (with --tls_key_file); empty = plaintext");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA certificates: require client certificates signed by them (mutual TLS)");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding a bearer token required (\"authorization: Bearer <token>\") on layer "
          "create/delete and repository load/unload; empty = no token");
ABSL_FLAG(bool, auth_inference, false,
          "with --auth_token_file: also require the token on inference, metadata and layer "
          "reads (health, ServerLive and ServerReady stay open)");

ABSL_FLAG(bool, allow_remote_control, false,
          "without --auth_token_file: let any peer create/delete layers and load/unload the "
          "repository (default: only this machine's loopback and unix-socket peers may)");

namespace tconv::server {
namespace {

// The process' components, destroyed in reverse order of creation.
struct Process {
  std::unique_ptr<PrometheusMetrics> metrics;
  std::unique_ptr<LayerManager> manager;
  std::unique_ptr<Server> server;
};

BatchingOptions DefaultBatching() {
  BatchingOptions batching;
  batching.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  batching.batch_timeout = absl::Microseconds(absl::GetFlag(FLAGS_batch_timeout_us));
  batching.max_queue_size = absl::GetFlag(FLAGS_max_queue_size);
  return batching;
}

// The --tls_* and --auth_* flags as Server::Options fields.
absl::Status SetSecurityOptions(Server::Options& options) {
  ASSIGN_OR_RETURN(
      options.credentials,
      MakeServerCredentials({absl::GetFlag(FLAGS_tls_cert_file), absl::GetFlag(FLAGS_tls_key_file),
                             absl::GetFlag(FLAGS_tls_client_ca_file)}));
  const std::string token_file = absl::GetFlag(FLAGS_auth_token_file);
  if (token_file.empty()) {
    if (absl::GetFlag(FLAGS_auth_inference)) {
      return absl::InvalidArgumentError("--auth_inference needs --auth_token_file");
    }
    return absl::OkStatus();
  }
  Authorizer::Options auth;
  ASSIGN_OR_RETURN(auth.token, ReadTokenFile(token_file));
  auth.protect_reads = absl::GetFlag(FLAGS_auth_inference);
  ASSIGN_OR_RETURN(Authorizer authorizer, Authorizer::Create(std::move(auth)));
  options.authorizer = std::make_shared<const Authorizer>(std::move(authorizer));
  return absl::OkStatus();
}

absl::Status StartProcess(Process& process) {
  const BatchingOptions batching = DefaultBatching();
  RETURN_IF_ERROR(batching.Validate());
  BatchExecutor::Options executor_options;
  executor_options.threads = absl::GetFlag(FLAGS_threads);
  ASSIGN_OR_RETURN(std::shared_ptr<BatchExecutor> executor,
                   BatchExecutor::Create(executor_options));
  PrometheusMetrics::Options metrics_options;
  metrics_options.address = absl::GetFlag(FLAGS_metrics_address);
  metrics_options.version = TCONV_VERSION;
  ASSIGN_OR_RETURN(process.metrics, PrometheusMetrics::Create(metrics_options));
  LayerManager::Options manager_options;
  manager_options.repository_dir = absl::GetFlag(FLAGS_model_repository);
  manager_options.default_batching = batching;
  manager_options.executor = std::move(executor);
  manager_options.observer = process.metrics.get();
  ASSIGN_OR_RETURN(process.manager, LayerManager::Create(std::move(manager_options)));

  Server::Options server_options;
  server_options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  server_options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  server_options.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  server_options.control_peers.allow_remote_control = absl::GetFlag(FLAGS_allow_remote_control);
  server_options.manager = process.manager.get();
  server_options.version = TCONV_VERSION;
  RETURN_IF_ERROR(SetSecurityOptions(server_options));
  ASSIGN_OR_RETURN(process.server, Server::Create(std::move(server_options)));
  RETURN_IF_ERROR(process.server->Start());
  process.server->MarkReady();
  return absl::OkStatus();
}

// --metrics_address with the port actually bound (the chosen one when the flag said 0).
std::string MetricsAddress(const PrometheusMetrics& metrics) {
  const std::string flag = absl::GetFlag(FLAGS_metrics_address);
  return absl::StrCat(flag.substr(0, flag.rfind(':')), ":", metrics.port());
}

// Blocks SIGTERM and SIGINT in every thread (call before any thread starts) so that the main
// thread can take them synchronously with sigwait: no work happens in a signal handler.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int Run() {
  const sigset_t signals = BlockShutdownSignals();
  Process process;
  if (absl::Status status = StartProcess(process); !status.ok()) {
    std::fprintf(stderr, "tconv-server: cannot start: %s\n", status.ToString().c_str());
    return 1;
  }
  std::printf("tconv-server serving grpc=%s metrics=%s repository=%s\n",
              process.server->address().c_str(), MetricsAddress(*process.metrics).c_str(),
              absl::GetFlag(FLAGS_model_repository).c_str());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  const absl::Duration drain = absl::GetFlag(FLAGS_drain_timeout);
  std::fprintf(stderr, "tconv-server: %s, draining (at most %s)\n", strsignal(signal_number),
               absl::FormatDuration(drain).c_str());
  process.server->Shutdown(absl::Now() + drain);
  std::fprintf(stderr, "tconv-server: stopped\n");
  return 0;
}

// Abseil's own --help lists only flags of a file named after the program (none here, so "No
// flags matched") and exits 1. Ours lists this file's flags with their defaults and exits 0;
// --helpfull still shows Abseil's and gRPC's flags too.
bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "--help" || arg == "-help" || arg == "-h") return true;
  }
  return false;
}

void PrintHelp() {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "server/main.cc")) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::printf("%s\n\nFlags:\n", std::string(absl::ProgramUsageMessage()).c_str());
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string fallback = flag->DefaultValue();
    std::printf("  --%s  %s\n      default: %s\n", std::string(flag->Name()).c_str(),
                flag->Help().c_str(), fallback.empty() ? "\"\"" : fallback.c_str());
  }
  std::printf("\nAbseil's and gRPC's own flags: --helpfull\n");
}

}  // namespace
}  // namespace tconv::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves Keras Conv2DTranspose layers over gRPC.\n"
      "  tconv-server --model_repository=DIR [--grpc_address=HOST:PORT] ...");
  if (tconv::server::WantsHelp(argc, argv)) {
    tconv::server::PrintHelp();
    return 0;
  }
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil checks every absl::Mutex acquisition (gRPC's locks and the gRPC edge's own)
  // for lock-order cycles, a debug aid that cost ~2% of the server's CPU per request in perf.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // glibc serves every block above 128 KiB with a fresh mmap and unmaps it on free, so each
  // tensor-sized buffer of a request (gRPC's slices, the protobuf's bytes, the kernel's output)
  // was faulted in page by page and zeroed by the kernel on every call: page faults were the
  // top of a 1.8 MB answer's profile, and keeping such blocks in the heap cut its end-to-end
  // p50 from ~6 to ~2 ms (bench/service/README.md). The price: the heap keeps up to
  // 128 MiB of freed memory for the next request instead of returning it at once.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest; bigger blocks are still mmapped
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  return tconv::server::Run();
}
