// Inference from several threads while another thread creates, replaces and deletes layers:
// no in-flight request fails, and every answer is one the layer's versions would give.
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

constexpr char kConfig[] = R"({"filters": 6, "kernel_size": 3, "strides": 2, "padding": "same",
                               "bias_initializer": "random_normal"})";
constexpr int kInferThreads = 3;
constexpr int kAdminRounds = 40;                        // bounded in count ...
const absl::Duration kMaxDuration = absl::Seconds(30);  // ... and in time

class Tally {
 public:
  void Add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[what];
  }
  std::map<std::string, int> counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
};

TEST(ConcurrencyTest, InferDuringCreateReplaceDelete) {
  TempDir dir;
  TestServer::Options options;
  options.repository_dir = dir.path();
  options.batching.batch_timeout = absl::Microseconds(200);
  auto started = TestServer::Start(options);
  ASSERT_OK(started);
  TestServer& server = **started;
  const std::vector<int64_t> shape = {2, 6, 6, 4};
  const auto input = RandomValues(2 * 6 * 6 * 4, 3);
  // The answers of the versions "churn" will go through (seeds 1 and 2), computed first.
  std::map<uint64_t, std::vector<float>> expected;
  for (uint64_t seed : {1, 2}) {
    const std::string name = absl::StrCat("ref", seed);
    ASSERT_OK(CreateLayer(server, SeededLayer(name, kConfig, 4, seed)));
    auto response = Infer(server, RawInfer(name, shape, input));
    ASSERT_OK(response);
    expected[seed] = RawOutput(*response);
  }
  ASSERT_NE(expected[1], expected[2]);
  ASSERT_OK(CreateLayer(server, SeededLayer("churn", kConfig, 4, 1)));

  std::atomic<bool> stop{false};
  Tally tally;
  std::vector<std::thread> clients;
  for (int t = 0; t < kInferThreads; ++t) {
    clients.emplace_back([&, t] {
      auto stub = inference::GRPCInferenceService::NewStub(server.NewChannel());
      while (!stop.load()) {
        for (const char* layer : {"ref1", "churn"}) {
          inference::ModelInferResponse response;
          const grpc::Status status =
              stub->ModelInfer(Context().get(), RawInfer(layer, shape, input), &response);
          const bool stable = std::string(layer) == "ref1";
          if (status.ok()) {
            const auto output = RawOutput(response);
            const bool known = output == expected[1] || (!stable && output == expected[2]);
            tally.Add(absl::StrCat(layer, known ? " ok" : " WRONG ANSWER"));
          } else {
            tally.Add(absl::StrCat(layer, " code ", status.error_code()));
          }
        }
        if (t == 0) std::this_thread::yield();
      }
    });
  }
  const absl::Time start = absl::Now();
  for (int round = 0; round < kAdminRounds && absl::Now() - start < kMaxDuration; ++round) {
    auto replace = SeededLayer("churn", kConfig, 4, 1 + round % 2);
    replace.set_replace(true);
    EXPECT_OK(CreateLayer(server, replace));
    EXPECT_OK(CreateLayer(server, SeededLayer("other", kConfig, 4, round)));
    tconv::v1::DeleteLayerRequest remove;
    tconv::v1::DeleteLayerResponse removed;
    remove.set_name("other");
    EXPECT_OK(ToAbsl(server.layers().DeleteLayer(Context().get(), remove, &removed)));
    if (round % 5 == 4) {
      remove.set_name("churn");
      EXPECT_OK(ToAbsl(server.layers().DeleteLayer(Context().get(), remove, &removed)));
    }
  }
  stop.store(true);
  for (auto& client : clients) client.join();

  const auto counts = tally.counts();
  for (const auto& [what, count] : counts) {
    std::printf("%s: %d\n", what.c_str(), count);
    // Only a deleted "churn" may refuse, and only as NOT_FOUND (code 5).
    const bool allowed = what == "ref1 ok" || what == "churn ok" || what == "churn code 5";
    EXPECT_TRUE(allowed) << what << ": " << count << " times";
  }
  EXPECT_GT(counts.count("ref1 ok") ? counts.at("ref1 ok") : 0, kAdminRounds / 4);
  EXPECT_GT(counts.count("churn ok") ? counts.at("churn ok") : 0, 0);
}

}  // namespace
}  // namespace tconv::server::testing
