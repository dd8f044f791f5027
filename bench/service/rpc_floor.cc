// rpc_floor: the round trip of an empty gRPC call (ServerLive) through tconv::client, one call
// at a time — the part of a ModelInfer's latency that gRPC and the machine cost whatever the
// server does (bench/service/run.sh reports it beside the service's overhead):
//
//   rpc_floor --server=127.0.0.1:8001 --calls=2000
//   median_us=95.3 min_us=71.0 calls=2000
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "tconv/client/client.h"
#include "tconv/kernel/status_macros.h"

ABSL_FLAG(std::string, server, "127.0.0.1:8001", "the server's gRPC address");
ABSL_FLAG(int, calls, 2000, "timed calls (after 10% as many untimed warm-up calls)");

namespace tconv {
namespace {

absl::Status Measure() {
  ASSIGN_OR_RETURN(auto client, client::Client::Create(absl::GetFlag(FLAGS_server)));
  const int calls = std::max(1, absl::GetFlag(FLAGS_calls));
  for (int i = 0; i < calls / 10; ++i) RETURN_IF_ERROR(client->ServerLive().status());
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    const auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(client->ServerLive().status());
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(us.begin(), us.end());
  std::printf("median_us=%.1f min_us=%.1f calls=%d\n", us[us.size() / 2], us.front(), calls);
  return absl::OkStatus();
}

}  // namespace
}  // namespace tconv

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as tconv-server
  const absl::Status status = tconv::Measure();
  if (!status.ok()) {
    std::fprintf(stderr, "rpc_floor: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
