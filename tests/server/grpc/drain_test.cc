// A drain under load cancels nothing: the real tconv-server binary on 127.0.0.1 gets SIGTERM
// while C closed-loop callers (C = 16 and 64, through tconv::client, one channel) keep sending
// ModelInfer. Every request sent must come back either with its full answer (OK) or with
// UNAVAILABLE, the code clients retry; CANCELLED (what gRPC gives a call that reaches a server
// after its Shutdown began) would be a lost request. The server must exit 0 within
// --drain_timeout.
#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/client/client.h"
#include "testing/status_matchers.h"
#include "testing/subprocess.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

constexpr absl::Duration kDrainTimeout = absl::Seconds(10);

// What the callers saw, by status code.
struct Tally {
  std::mutex mu;
  std::map<absl::StatusCode, int64_t> codes ABSL_GUARDED_BY(mu);
  std::map<absl::StatusCode, std::string> first_message ABSL_GUARDED_BY(mu);
  int64_t wrong_answers ABSL_GUARDED_BY(mu) = 0;  // OK but not the expected shape
};

// One closed-loop caller: its next request only once the previous one is answered.
void Caller(client::Client& client, const std::atomic<bool>& stop, std::atomic<int64_t>& sent,
            Tally& tally, uint64_t seed) {
  const std::vector<float> input = RandomValues(4 * 4 * 3, seed);
  client::CallOptions call;
  call.timeout = absl::Seconds(20);
  while (!stop.load()) {
    sent.fetch_add(1);
    absl::StatusOr<client::Tensor> answer = client.Infer("small", input, {1, 4, 4, 3}, call);
    std::lock_guard<std::mutex> lock(tally.mu);
    const absl::StatusCode code = answer.status().code();
    if (tally.codes[code]++ == 0) tally.first_message[code] = answer.status().ToString();
    if (answer.ok() && answer->values.size() != 6u * 6u * 2u) ++tally.wrong_answers;
  }
}

class DrainTest : public ::testing::TestWithParam<int> {};

TEST_P(DrainTest, SigtermUnderLoadAnswersOnlyOkOrUnavailableAndExitsZero) {
  const int concurrency = GetParam();
  TempDir dir;
  tconv::testing::Subprocess server(
      {TCONV_SERVER_BINARY, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
       "--model_repository=" + dir.path(), "--threads=1",
       absl::StrCat("--drain_timeout=", absl::FormatDuration(kDrainTimeout))},
      dir.path() + "/server_stderr.txt");
  ASSERT_TRUE(server.started());
  const std::string line = server.ReadLine(absl::Seconds(30));
  const size_t at = line.find("grpc=");
  ASSERT_NE(at, std::string::npos) << "no address in: " << line;
  const std::string address = line.substr(at + 5, line.find(' ', at) - at - 5);

  absl::StatusOr<std::unique_ptr<client::Client>> client = client::Client::Create(address);
  ASSERT_OK(client);
  client::LayerSpec spec;
  spec.name = "small";
  spec.config_json = R"({"filters": 2, "kernel_size": 3})";
  spec.in_channels = 3;
  spec.seed = 1;
  ASSERT_OK((*client)->CreateLayer(spec).status());

  std::atomic<bool> stop{false};
  std::atomic<int64_t> sent{0};
  Tally tally;
  std::vector<std::thread> callers;
  for (int i = 0; i < concurrency; ++i) {
    callers.emplace_back(
        [&, i] { Caller(**client, stop, sent, tally, static_cast<uint64_t>(i) + 1); });
  }
  absl::SleepFor(absl::Seconds(1));  // under load
  const int64_t sent_before = sent.load();
  const absl::Time sigterm = absl::Now();
  server.Signal(SIGTERM);
  const int exit_status = server.Wait(kDrainTimeout + absl::Seconds(5));
  const absl::Duration drained = absl::Now() - sigterm;
  absl::SleepFor(absl::Milliseconds(300));  // the callers now meet a closed port
  stop.store(true);
  for (std::thread& caller : callers) caller.join();

  EXPECT_EQ(exit_status, 0) << tconv::testing::ReadFile(dir.path() + "/server_stderr.txt");
  EXPECT_LT(drained, kDrainTimeout);
  std::lock_guard<std::mutex> lock(tally.mu);
  int64_t answered = 0;
  std::string summary;
  for (const auto& [code, count] : tally.codes) {
    answered += count;
    absl::StrAppend(&summary, absl::StatusCodeToString(code), "=", count, " (",
                    tally.first_message[code], ")\n");
  }
  EXPECT_EQ(answered, sent.load()) << "every request sent is answered once";
  EXPECT_GT(sent_before, concurrency) << "the load ran before the SIGTERM";
  EXPECT_GT(tally.codes[absl::StatusCode::kOk], 0) << summary;
  EXPECT_GT(tally.codes[absl::StatusCode::kUnavailable], 0) << summary;
  for (const auto& [code, count] : tally.codes) {
    EXPECT_TRUE(code == absl::StatusCode::kOk || code == absl::StatusCode::kUnavailable)
        << count << " answers with " << absl::StatusCodeToString(code) << "; all:\n"
        << summary;
  }
  EXPECT_EQ(tally.wrong_answers, 0);
  std::printf("concurrency %d: %lld requests, drained in %s:\n%s", concurrency,
              static_cast<long long>(answered), absl::FormatDuration(drained).c_str(),
              summary.c_str());
}

INSTANTIATE_TEST_SUITE_P(Concurrency, DrainTest, ::testing::Values(16, 64));

}  // namespace
}  // namespace tconv::server::testing
