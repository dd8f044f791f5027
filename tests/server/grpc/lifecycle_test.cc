// The server's lifecycle through a real in-process server: health transitions, draining,
// graceful shutdown with requests in flight, the message size limit and client deadlines.
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;
using Health = grpc::health::v1::HealthCheckResponse;

constexpr char kSmall[] = R"({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"})";

std::unique_ptr<TestServer> StartOrDie(TestServer::Options options) {
  auto server = TestServer::Start(std::move(options));
  EXPECT_OK(server);
  return server.ok() ? *std::move(server) : nullptr;
}

// Waits (bounded) until the server holds exactly `count` inference calls.
bool AwaitInFlight(TestServer& server, int64_t count) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (server.server().InFlightInferences() != count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

bool ServerReady(TestServer& server) {
  inference::ServerReadyResponse response;
  EXPECT_OK(ToAbsl(server.oip().ServerReady(Context().get(), {}, &response)));
  return response.ready();
}

TEST(LifecycleTest, HealthFollowsReadinessAndDraining) {
  TempDir dir;
  TestServer::Options options;
  options.repository_dir = dir.path();
  options.mark_ready = false;
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CreateLayer(*server, SeededLayer("small", kSmall, 3, 1)));
  const auto request = RawInfer("small", {1, 4, 4, 3}, RandomValues(48, 1));
  for (const char* service : {"", "inference.GRPCInferenceService", "tconv.v1.LayerService"}) {
    EXPECT_EQ(HealthOf(*server, service), Health::NOT_SERVING) << service;
  }
  EXPECT_FALSE(ServerReady(*server));
  EXPECT_THAT(Infer(*server, request),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("not ready")));

  server->server().MarkReady();
  for (const char* service : {"", "inference.GRPCInferenceService", "tconv.v1.LayerService"}) {
    EXPECT_EQ(HealthOf(*server, service), Health::SERVING) << service;
  }
  EXPECT_TRUE(ServerReady(*server));
  EXPECT_OK(Infer(*server, request));

  server->server().StartDraining();
  EXPECT_EQ(HealthOf(*server, ""), Health::NOT_SERVING);
  EXPECT_EQ(HealthOf(*server, "inference.GRPCInferenceService"), Health::NOT_SERVING);
  EXPECT_FALSE(ServerReady(*server));
  EXPECT_THAT(Infer(*server, request), StatusIs(absl::StatusCode::kUnavailable));
  inference::ServerLiveResponse live;
  ASSERT_OK(ToAbsl(server->oip().ServerLive(Context().get(), {}, &live)));
  EXPECT_TRUE(live.live());
  EXPECT_EQ(server->observer().Count("small", absl::StatusCode::kUnavailable), 2);
}

// Requests wait in the batcher (a long batch timeout holds them) when Shutdown starts: they
// all complete with their answers, and Shutdown returns after them.
TEST(LifecycleTest, ShutdownLetsInFlightRequestsFinish) {
  TempDir dir;
  TestServer::Options options;
  options.repository_dir = dir.path();
  options.batching.max_batch_size = 64;
  options.batching.batch_timeout = absl::Milliseconds(1500);
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CreateLayer(*server, SeededLayer("small", kSmall, 3, 1)));
  constexpr int kRequests = 6;
  std::vector<std::future<absl::StatusOr<inference::ModelInferResponse>>> answers;
  for (int i = 0; i < kRequests; ++i) {
    answers.push_back(std::async(std::launch::async, [&server, i] {
      return Infer(*server, RawInfer("small", {1, 5, 5, 3}, RandomValues(75, i)));
    }));
  }
  ASSERT_TRUE(AwaitInFlight(*server, kRequests));
  const absl::Time start = absl::Now();
  server->server().Shutdown(absl::Now() + absl::Seconds(30));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  for (auto& answer : answers) {
    auto response = answer.get();
    ASSERT_OK(response);
    EXPECT_EQ(RawOutput(*response).size(), 10u * 10u * 4u);
  }
  EXPECT_EQ(server->observer().Count("small", absl::StatusCode::kOk), kRequests);
}

TEST(LifecycleTest, OversizedMessageIsResourceExhaustedWithTheLimit) {
  TempDir dir;
  TestServer::Options options;
  options.repository_dir = dir.path();
  options.max_message_bytes = 64 * 1024;
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CreateLayer(*server, SeededLayer("small", kSmall, 3, 1)));
  const auto big = RawInfer("small", {1, 100, 100, 3}, RandomValues(30000, 1));  // 120 KB
  EXPECT_THAT(Infer(*server, big),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("65536")));
  EXPECT_OK(Infer(*server, RawInfer("small", {1, 10, 10, 3}, RandomValues(300, 1))));
}

// A request whose deadline passes while it waits in the queue is answered DEADLINE_EXCEEDED
// and never computed; the server stays healthy.
TEST(LifecycleTest, ExpiredDeadlineIsNotComputed) {
  TempDir dir;
  TestServer::Options options;
  options.repository_dir = dir.path();
  options.batching.max_batch_size = 64;
  options.batching.batch_timeout = absl::Seconds(2);
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  ASSERT_OK(CreateLayer(*server, SeededLayer("small", kSmall, 3, 1)));
  const auto request = RawInfer("small", {1, 5, 5, 3}, RandomValues(75, 1));
  EXPECT_THAT(Infer(*server, request, absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  ASSERT_TRUE(AwaitInFlight(*server, 0));
  EXPECT_EQ(server->observer().Computed("small"), 0);
  EXPECT_EQ(server->observer().Count("small", absl::StatusCode::kDeadlineExceeded) +
                server->observer().Count("small", absl::StatusCode::kCancelled),
            1);
  EXPECT_EQ(HealthOf(*server, ""), Health::SERVING);
  EXPECT_OK(Infer(*server, request));  // waits out the batch timeout, then runs
  EXPECT_EQ(server->observer().Computed("small"), 1);
}

}  // namespace
}  // namespace tconv::server::testing
