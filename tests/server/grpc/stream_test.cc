// ModelStreamInfer through a real in-process server and the raw generated stub: many requests
// on one stream with answers matched by id against the golden cases, refused requests answered
// on the stream that goes on, batching across streams with answers bitwise equal to ModelInfer's,
// client cancellation, and the end of a stream on a drain.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"
#include "tests/client/golden_cases.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::GoldenCase;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Stream =
    grpc::ClientReaderWriter<inference::ModelInferRequest, inference::ModelStreamInferResponse>;

constexpr char kDcganG3[] =
    R"({"filters": 1, "kernel_size": [5, 5], "strides": [2, 2], "padding": "same",
        "use_bias": false, "activation": "tanh"})";

std::string FloatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

tconv::v1::CreateLayerRequest GoldenLayer(const std::string& name, const GoldenCase& c) {
  tconv::v1::CreateLayerRequest create;
  create.set_name(name);
  create.set_config_json(c.config_json);
  for (int64_t dim : c.kernel_shape) create.add_kernel_shape(dim);
  create.set_kernel(FloatBytes(c.kernel));
  if (!c.bias.empty()) create.set_bias(FloatBytes(c.bias));
  return create;
}

inference::ModelInferRequest WithId(inference::ModelInferRequest request, const std::string& id) {
  request.set_id(id);
  return request;
}

// Reads every answer until the server ends the stream, by id (ids are unique in these tests).
std::map<std::string, inference::ModelStreamInferResponse> ReadAll(Stream& stream) {
  std::map<std::string, inference::ModelStreamInferResponse> answers;
  inference::ModelStreamInferResponse answer;
  while (stream.Read(&answer)) {
    const std::string id = answer.infer_response().id();
    EXPECT_TRUE(answers.emplace(id, answer).second) << "two answers for " << id;
  }
  return answers;
}

class StreamTest : public ::testing::Test {
 protected:
  void StartServer(BatchingOptions batching = {}, int64_t max_message_bytes = int64_t{256} << 20) {
    TestServer::Options options;
    options.repository_dir = dir_.path();
    options.batching = batching;
    options.max_message_bytes = max_message_bytes;
    auto server = TestServer::Start(options);
    ASSERT_OK(server);
    server_ = std::move(*server);
  }
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

// Every golden case on one stream, written all at once before reading; two bad requests in the
// middle are answered with error_message and the rest still arrive.
TEST_F(StreamTest, GoldenCasesOnOneStreamMatchedById) {
  StartServer();
  const std::vector<GoldenCase> cases = ::tconv::testing::LoadGoldenCases();
  ASSERT_EQ(cases.size(), 150u);
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_OK(CreateLayer(*server_, GoldenLayer("case" + std::to_string(i), cases[i])));
  }
  auto context = Context(absl::Seconds(60));
  std::unique_ptr<Stream> stream = server_->oip().ModelStreamInfer(context.get());
  std::thread writer([&] {
    for (size_t i = 0; i < cases.size(); ++i) {
      const std::string name = "case" + std::to_string(i);
      ASSERT_TRUE(stream->Write(
          WithId(RawInfer(name, cases[i].input_shape, cases[i].input), "req-" + name)));
      if (i == cases.size() / 2) {  // wrong channels, then an unknown layer
        auto shape = cases[i].input_shape;
        shape[cases[i].channels_first ? 1 : 3] += 1;
        int64_t size = 1;
        for (int64_t dim : shape) size *= dim;
        ASSERT_TRUE(stream->Write(WithId(RawInfer(name, shape, RandomValues(size, 1)), "bad")));
        ASSERT_TRUE(stream->Write(WithId(RawInfer("nope", {1, 2, 2, 1}, {1, 2, 3, 4}), "nope")));
      }
    }
    stream->WritesDone();
  });
  auto answers = ReadAll(*stream);
  writer.join();
  ASSERT_OK(ToAbsl(stream->Finish()));
  ASSERT_EQ(answers.size(), cases.size() + 2);

  EXPECT_THAT(answers["bad"].error_message(), StartsWith("INVALID_ARGUMENT: "));
  EXPECT_EQ(answers["bad"].infer_response().outputs_size(), 0);
  EXPECT_THAT(answers["nope"].error_message(), StartsWith("NOT_FOUND: "));
  EXPECT_THAT(answers["nope"].error_message(), HasSubstr("nope"));
  EXPECT_EQ(answers["nope"].infer_response().model_name(), "nope");
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string name = "case" + std::to_string(i);
    SCOPED_TRACE(cases[i].name);
    const auto& answer = answers["req-" + name];
    ASSERT_EQ(answer.error_message(), "");
    const auto& response = answer.infer_response();
    EXPECT_EQ(response.model_name(), name);
    EXPECT_EQ(response.model_version(), "1");
    ASSERT_EQ(response.outputs_size(), 1);
    EXPECT_THAT(response.outputs(0).shape(), ::testing::ElementsAreArray(cases[i].output_shape));
    const std::vector<float> got = RawOutput(response);
    ASSERT_EQ(got.size(), cases[i].output.size());
    for (size_t k = 0; k < got.size(); ++k) {
      ASSERT_TRUE(::tconv::testing::WithinTolerance(got[k], cases[i].output[k]))
          << "element " << k << ": " << got[k] << " vs " << cases[i].output[k];
    }
    // Counted like a ModelInfer.
    EXPECT_EQ(server_->observer().Count(name, absl::StatusCode::kOk), 1);
  }
  const std::string middle = "case" + std::to_string(cases.size() / 2);
  EXPECT_EQ(server_->observer().Count(middle, absl::StatusCode::kInvalidArgument), 1);
  EXPECT_EQ(server_->observer().Count("nope", absl::StatusCode::kNotFound), 1);
}

// Four streams at once into one layer whose batcher waits for company: the requests of
// different streams run in shared batches, and every streamed answer equals, bit for bit, the
// answer ModelInfer gives to the same input alone (on a second server that never batches, with
// the same seeded layer).
TEST_F(StreamTest, StreamsBatchTogetherAndMatchUnaryAnswersBitwise) {
  BatchingOptions batching;
  batching.max_batch_size = 16;
  batching.batch_timeout = absl::Milliseconds(100);
  StartServer(batching);
  ASSERT_OK(CreateLayer(*server_, SeededLayer("g3", kDcganG3, 64, 7)));
  TempDir alone_dir;
  TestServer::Options alone_options;
  alone_options.repository_dir = alone_dir.path();
  alone_options.batching.max_batch_size = 1;
  auto alone_server = TestServer::Start(alone_options);
  ASSERT_OK(alone_server);
  ASSERT_OK(CreateLayer(**alone_server, SeededLayer("g3", kDcganG3, 64, 7)));
  constexpr int kStreams = 4;
  constexpr int kPerStream = 24;
  const auto request = [](int stream, int k) {
    return WithId(RawInfer("g3", {1, 4, 4, 64}, RandomValues(4 * 4 * 64, 100 * stream + k)),
                  std::to_string(stream) + "/" + std::to_string(k));
  };
  std::vector<std::map<std::string, inference::ModelStreamInferResponse>> answers(kStreams);
  std::vector<std::thread> clients;
  for (int s = 0; s < kStreams; ++s) {
    clients.emplace_back([&, s] {
      auto channel = server_->NewChannel();  // own connection, like separate clients
      auto stub = inference::GRPCInferenceService::NewStub(channel);
      auto context = Context(absl::Seconds(60));
      std::unique_ptr<Stream> stream = stub->ModelStreamInfer(context.get());
      for (int k = 0; k < kPerStream; ++k) ASSERT_TRUE(stream->Write(request(s, k)));
      stream->WritesDone();
      answers[s] = ReadAll(*stream);
      EXPECT_OK(ToAbsl(stream->Finish()));
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_GT(server_->observer().LargestBatch("g3"), kPerStream / 8) << "no batching happened";
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_EQ(answers[s].size(), static_cast<size_t>(kPerStream));
    for (int k = 0; k < kPerStream; ++k) {
      const auto& streamed = answers[s][std::to_string(s) + "/" + std::to_string(k)];
      ASSERT_EQ(streamed.error_message(), "");
      auto alone = Infer(**alone_server, request(s, k));
      ASSERT_OK(alone);
      EXPECT_EQ(streamed.infer_response().raw_output_contents(0), alone->raw_output_contents(0))
          << "stream " << s << " request " << k;
    }
  }
  EXPECT_EQ(server_->observer().Count("g3", absl::StatusCode::kOk), kStreams * kPerStream);
  EXPECT_EQ((*alone_server)->observer().LargestBatch("g3"), 1);
}

// More requests on one stream than it holds unanswered (128): with a batcher that waits 500 ms
// for company and takes up to 256 examples, the stream reads 128 requests, pauses (the first
// batch is exactly 128: without the limit it would hold all 200), and resumes as the answers
// are written, so every request is answered.
TEST_F(StreamTest, AStreamHoldsAtMost128UnansweredRequests) {
  BatchingOptions batching;
  batching.max_batch_size = 256;
  batching.batch_timeout = absl::Milliseconds(500);
  StartServer(batching);
  ASSERT_OK(CreateLayer(*server_, SeededLayer("g3", kDcganG3, 64, 7)));
  auto context = Context(absl::Seconds(60));
  std::unique_ptr<Stream> stream = server_->oip().ModelStreamInfer(context.get());
  constexpr int kRequests = 200;
  const std::vector<float> input = RandomValues(1024, 5);
  for (int k = 0; k < kRequests; ++k) {
    ASSERT_TRUE(stream->Write(WithId(RawInfer("g3", {1, 4, 4, 64}, input), std::to_string(k))));
  }
  stream->WritesDone();
  auto answers = ReadAll(*stream);
  ASSERT_OK(ToAbsl(stream->Finish()));
  ASSERT_EQ(answers.size(), static_cast<size_t>(kRequests));
  for (const auto& [id, answer] : answers) EXPECT_EQ(answer.error_message(), "") << id;
  EXPECT_EQ(server_->observer().Count("g3", absl::StatusCode::kOk), kRequests);
  EXPECT_EQ(server_->observer().LargestBatch("g3"), 128);
}

// An answer above --max_message_bytes is refused before computing (RESOURCE_EXHAUSTED on the
// stream), and the stream goes on.
TEST_F(StreamTest, AnswerAboveTheMessageLimitIsRefusedOnTheStream) {
  StartServer({}, /*max_message_bytes=*/64 << 10);
  // 1 input channel -> 64 filters at stride 2: the answer is 256 times the request.
  ASSERT_OK(CreateLayer(
      *server_, SeededLayer("wide", R"({"filters": 64, "kernel_size": 2, "strides": 2})", 1, 3)));
  auto context = Context();
  std::unique_ptr<Stream> stream = server_->oip().ModelStreamInfer(context.get());
  // 16x16x1 in (1 KiB) -> 32x32x64 out (256 KiB), and 2x2x1 -> 4x4x64 (4 KiB).
  ASSERT_TRUE(stream->Write(WithId(RawInfer("wide", {1, 16, 16, 1}, RandomValues(256, 1)), "big")));
  ASSERT_TRUE(stream->Write(WithId(RawInfer("wide", {1, 2, 2, 1}, RandomValues(4, 2)), "ok")));
  stream->WritesDone();
  auto answers = ReadAll(*stream);
  ASSERT_OK(ToAbsl(stream->Finish()));
  EXPECT_THAT(answers["big"].error_message(), StartsWith("RESOURCE_EXHAUSTED: "));
  EXPECT_THAT(answers["big"].error_message(), HasSubstr("--max_message_bytes"));
  EXPECT_EQ(answers["ok"].error_message(), "");
  EXPECT_EQ(server_->observer().Count("wide", absl::StatusCode::kResourceExhausted), 1);
  EXPECT_EQ(server_->observer().Count("wide", absl::StatusCode::kOk), 1);
}

// A client that cancels ends its stream: the client sees CANCELLED, the server keeps nothing
// open (a drain finds it idle at once) and serves the next stream.
TEST_F(StreamTest, ClientCancelEndsTheStreamCleanly) {
  StartServer();
  ASSERT_OK(CreateLayer(*server_, SeededLayer("g3", kDcganG3, 64, 7)));
  {
    auto context = Context();
    std::unique_ptr<Stream> stream = server_->oip().ModelStreamInfer(context.get());
    for (int k = 0; k < 8; ++k) {
      ASSERT_TRUE(stream->Write(
          WithId(RawInfer("g3", {1, 4, 4, 64}, RandomValues(1024, k)), std::to_string(k))));
    }
    inference::ModelStreamInferResponse answer;
    ASSERT_TRUE(stream->Read(&answer));
    EXPECT_EQ(answer.error_message(), "");
    context->TryCancel();
    while (stream->Read(&answer)) {
    }
    EXPECT_THAT(ToAbsl(stream->Finish()), StatusIs(absl::StatusCode::kCancelled));
  }
  {  // the server goes on
    auto context = Context();
    std::unique_ptr<Stream> stream = server_->oip().ModelStreamInfer(context.get());
    ASSERT_TRUE(stream->Write(WithId(RawInfer("g3", {1, 4, 4, 64}, RandomValues(1024, 9)), "x")));
    stream->WritesDone();
    EXPECT_EQ(ReadAll(*stream).size(), 1u);
    ASSERT_OK(ToAbsl(stream->Finish()));
  }
  const absl::Time start = absl::Now();
  server_->server().Shutdown(absl::Now() + absl::Seconds(20));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "a cancelled stream stayed open";
}

// A drain (SIGTERM) while a stream is open: the requests the server holds are answered, then
// the stream ends with UNAVAILABLE (not CANCELLED), long before the drain deadline.
TEST_F(StreamTest, DrainAnswersAcceptedRequestsThenEndsWithUnavailable) {
  BatchingOptions batching;
  batching.max_batch_size = 64;
  batching.batch_timeout = absl::Seconds(2);  // accepted requests wait in the queue
  StartServer(batching);
  ASSERT_OK(CreateLayer(*server_, SeededLayer("g3", kDcganG3, 64, 7)));
  auto context = Context();
  std::unique_ptr<Stream> stream = server_->oip().ModelStreamInfer(context.get());
  constexpr int kRequests = 8;
  for (int k = 0; k < kRequests; ++k) {
    ASSERT_TRUE(stream->Write(
        WithId(RawInfer("g3", {1, 4, 4, 64}, RandomValues(1024, k)), std::to_string(k))));
  }
  // Every request read by the server and waiting in the batch queue (bounded wait).
  for (int i = 0; i < 500 && server_->observer().QueueDepth("g3") < kRequests; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server_->observer().QueueDepth("g3"), kRequests);
  const absl::Time start = absl::Now();
  std::thread drain([&] { server_->server().Shutdown(absl::Now() + absl::Seconds(20)); });
  auto answers = ReadAll(*stream);
  const absl::Status status = ToAbsl(stream->Finish());
  drain.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("draining")));
  int64_t ok = 0;
  for (const auto& [id, answer] : answers) {
    if (answer.error_message().empty()) {
      ++ok;
      EXPECT_EQ(answer.infer_response().raw_output_contents(0).size(), 8u * 8u * 4u) << id;
    } else {
      EXPECT_THAT(answer.error_message(), StartsWith("UNAVAILABLE: ")) << id;
    }
  }
  // Every request the server held at the drain was computed and answered on the stream.
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(answers.size(), static_cast<size_t>(kRequests));
  EXPECT_EQ(server_->observer().Count("g3", absl::StatusCode::kOk), kRequests);
}

// A stream opened after the drain began ends at once with UNAVAILABLE.
TEST_F(StreamTest, NewStreamDuringDrainIsRefused) {
  StartServer();
  server_->server().StartDraining();
  auto context = Context();
  std::unique_ptr<Stream> stream = server_->oip().ModelStreamInfer(context.get());
  inference::ModelStreamInferResponse answer;
  EXPECT_FALSE(stream->Read(&answer));
  EXPECT_THAT(ToAbsl(stream->Finish()), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace tconv::server::testing
