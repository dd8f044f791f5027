// tconv::client against a real in-process server on 127.0.0.1:0: the control plane, inference
// checked against the golden conformance cases, and every status code as the client sees it.
#include "tconv/client/client.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "golden_cases.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::testing {
namespace {

using client::Client;
using client::LayerInfo;
using client::LayerSpec;
using ::tconv::server::testing::TestServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

LayerSpec SpecOf(const GoldenCase& c, std::string name) {
  LayerSpec spec;
  spec.name = std::move(name);
  spec.config_json = c.config_json;
  spec.kernel = c.kernel;
  spec.kernel_shape = c.kernel_shape;
  spec.bias = c.bias;
  return spec;
}

// A config whose weights come from the initializers: Keras' defaults, 3x3, stride 2, same.
LayerSpec SeededSpec(std::string name, int64_t in_channels, uint64_t seed) {
  LayerSpec spec;
  spec.name = std::move(name);
  spec.config_json = R"({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"})";
  spec.in_channels = in_channels;
  spec.seed = seed;
  return spec;
}

void ExpectMatchesGolden(const client::Tensor& got, const GoldenCase& c) {
  ASSERT_EQ(got.shape, c.output_shape) << c.name;
  ASSERT_EQ(got.values.size(), c.output.size()) << c.name;
  for (size_t i = 0; i < got.values.size(); ++i) {
    ASSERT_TRUE(WithinTolerance(got.values[i], c.output[i]))
        << c.name << " element " << i << ": got " << got.values[i] << ", want " << c.output[i];
  }
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestServer>> server = TestServer::Start();
    ASSERT_OK(server);
    server_ = *std::move(server);
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(server_->address());
    ASSERT_OK(client);
    client_ = *std::move(client);
    cases_ = LoadGoldenCases();
    ASSERT_EQ(cases_.size(), 150u) << "reading " << kGoldenCasesFile;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
  std::vector<GoldenCase> cases_;
};

TEST_F(ClientTest, CreateGetListDeleteRoundTrip) {
  const GoldenCase& c = cases_[0];  // 5x5 stride 2 same, 3 -> 3 channels, relu
  absl::StatusOr<LayerInfo> created = client_->CreateLayer(SpecOf(c, "gen1"));
  ASSERT_OK(created);
  EXPECT_EQ(created->name, "gen1");
  EXPECT_EQ(created->in_channels, 3);
  EXPECT_THAT(created->kernel_shape, ElementsAre(5, 5, 3, 3));
  EXPECT_EQ(created->weight_checksum, WeightChecksum(c.kernel, c.bias));
  EXPECT_EQ(created->shape_rule.data_format, "channels_last");
  EXPECT_THAT(created->shape_rule.input_shape, ElementsAre(-1, -1, -1, 3));
  EXPECT_EQ(created->shape_rule.height.stride, 2);
  EXPECT_EQ(created->shape_rule.height.offset, 0);
  EXPECT_THAT(created->config_json, HasSubstr("\"relu\""));
  EXPECT_LE(absl::AbsDuration(absl::Now() - created->created), absl::Minutes(1));
  EXPECT_GT(created->batching.max_batch_size, 0);

  absl::StatusOr<LayerInfo> got = client_->GetLayer("gen1");
  ASSERT_OK(got);
  EXPECT_EQ(got->weight_checksum, created->weight_checksum);
  EXPECT_EQ(got->config_json, created->config_json);
  EXPECT_EQ(got->created, created->created);

  ASSERT_OK(client_->CreateLayer(SpecOf(cases_[3], "a_first")));
  absl::StatusOr<std::vector<LayerInfo>> listed = client_->ListLayers();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "a_first");  // sorted by name
  EXPECT_EQ((*listed)[1].name, "gen1");

  ASSERT_OK(client_->DeleteLayer("gen1"));
  EXPECT_THAT(client_->GetLayer("gen1"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("gen1")));
  listed = client_->ListLayers();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "a_first");
}

TEST_F(ClientTest, RecreatingIsAlreadyExistsUnlessReplace) {
  ASSERT_OK(client_->CreateLayer(SpecOf(cases_[0], "layer")));
  EXPECT_THAT(client_->CreateLayer(SpecOf(cases_[0], "layer")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("layer")));
  LayerSpec replacement = SpecOf(cases_[1], "layer");
  replacement.replace = true;
  absl::StatusOr<LayerInfo> replaced = client_->CreateLayer(replacement);
  ASSERT_OK(replaced);
  EXPECT_EQ(replaced->weight_checksum, WeightChecksum(cases_[1].kernel, cases_[1].bias));
  absl::StatusOr<client::Tensor> out =
      client_->Infer("layer", cases_[1].input, cases_[1].input_shape);
  ASSERT_OK(out);
  ExpectMatchesGolden(*out, cases_[1]);
}

TEST_F(ClientTest, UnknownLayerIsNotFound) {
  EXPECT_THAT(client_->GetLayer("nope"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(client_->DeleteLayer("nope"), StatusIs(absl::StatusCode::kNotFound));
  const std::vector<float> input(12, 1.0f);
  EXPECT_THAT(client_->Infer("nope", input, std::vector<int64_t>{1, 2, 2, 3}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(client_->GetModelMetadata("nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(client_->ModelReady("nope"), IsOkAndHolds(false));
}

TEST_F(ClientTest, BadConfigAndWeightsAreInvalidArgumentNamingTheArgument) {
  LayerSpec spec = SeededSpec("bad", 3, 1);
  spec.config_json = R"({"filters": 0, "kernel_size": 3})";
  EXPECT_THAT(client_->CreateLayer(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filters")));
  spec.config_json = "{not json";
  EXPECT_THAT(client_->CreateLayer(spec), StatusIs(absl::StatusCode::kInvalidArgument));
  LayerSpec short_kernel = SpecOf(cases_[0], "bad");
  short_kernel.kernel.pop_back();
  EXPECT_THAT(client_->CreateLayer(short_kernel), StatusIs(absl::StatusCode::kInvalidArgument));
  LayerSpec bad_name = SpecOf(cases_[0], "../escape");
  EXPECT_THAT(client_->CreateLayer(bad_name), StatusIs(absl::StatusCode::kInvalidArgument));
  // Nothing was created by any of these.
  EXPECT_THAT(client_->ListLayers(), IsOkAndHolds(IsEmpty()));
}

TEST_F(ClientTest, InferMatchesGoldenCasesInBothDataFormats) {
  int channels_first = 0;
  for (size_t i = 0; i < cases_.size(); i += 7) {
    const GoldenCase& c = cases_[i];
    const std::string name = "case" + std::to_string(i);
    ASSERT_OK(client_->CreateLayer(SpecOf(c, name)));
    absl::StatusOr<client::Tensor> out = client_->Infer(name, c.input, c.input_shape);
    ASSERT_OK(out);
    ExpectMatchesGolden(*out, c);
    channels_first += c.channels_first;
  }
  EXPECT_GT(channels_first, 0);
}

TEST_F(ClientTest, InferAsyncGivesTheSameBitsAsInfer) {
  const GoldenCase& c = cases_[1];
  ASSERT_OK(client_->CreateLayer(SpecOf(c, "layer")));
  absl::StatusOr<client::Tensor> sync = client_->Infer("layer", c.input, c.input_shape);
  ASSERT_OK(sync);
  absl::Notification done;
  absl::StatusOr<client::Tensor> async;
  client_->InferAsync("layer", c.input, c.input_shape, [&](absl::StatusOr<client::Tensor> r) {
    async = std::move(r);
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_OK(async);
  EXPECT_EQ(async->shape, sync->shape);
  EXPECT_EQ(async->values, sync->values);
}

TEST_F(ClientTest, BadInferInputIsInvalidArgument) {
  const GoldenCase& c = cases_[0];  // 3 input channels
  ASSERT_OK(client_->CreateLayer(SpecOf(c, "layer")));
  const std::vector<float> four_channels(1 * 4 * 4 * 4, 0.5f);
  EXPECT_THAT(client_->Infer("layer", four_channels, std::vector<int64_t>{1, 4, 4, 4}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3")));
  EXPECT_THAT(client_->Infer("layer", four_channels, std::vector<int64_t>{64, 1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Refused by the client before sending: the shape does not describe the values.
  EXPECT_THAT(client_->Infer("layer", four_channels, std::vector<int64_t>{1, 4, 4, 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[1, 4, 4, 3]")));
  absl::Notification done;
  absl::Status async;
  client_->InferAsync("layer", four_channels, std::vector<int64_t>{1, 4, 4, 4},
                      [&](absl::StatusOr<client::Tensor> r) {
                        async = r.status();
                        done.Notify();
                      });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_THAT(async, StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClientTest, InitializerWeightsFollowTheSeed) {
  absl::StatusOr<LayerInfo> a = client_->CreateLayer(SeededSpec("a", 5, 42));
  absl::StatusOr<LayerInfo> b = client_->CreateLayer(SeededSpec("b", 5, 42));
  absl::StatusOr<LayerInfo> c = client_->CreateLayer(SeededSpec("c", 5, 43));
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  EXPECT_EQ(a->weight_checksum, b->weight_checksum);
  EXPECT_NE(a->weight_checksum, c->weight_checksum);
  EXPECT_THAT(a->kernel_shape, ElementsAre(3, 3, 4, 5));
  EXPECT_THAT(client_->CreateLayer(SeededSpec("d", 0, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ClientStatusTest, FromGrpcStatusKeepsEveryCodeAndMessage) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status status = client::FromGrpcStatus(
        grpc::Status(static_cast<grpc::StatusCode>(code), code == 0 ? "" : "why"));
    EXPECT_EQ(static_cast<int>(status.code()), code);
    if (code != 0) {
      EXPECT_EQ(status.message(), "why");
    }
  }
  // An undefined code, but within the enum's range (-32..31 for enumerators -1..16): 99 was
  // undefined behaviour to form, and UBSan stopped the test on it.
  EXPECT_THAT(client::FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(30), "odd")),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("30")));
}

TEST(ClientCreateTest, RefusesBadTargetsAndOptions) {
  EXPECT_THAT(Client::Create(""), StatusIs(absl::StatusCode::kInvalidArgument));
  client::Options options;
  options.default_timeout = absl::ZeroDuration();
  EXPECT_THAT(Client::Create("127.0.0.1:1", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("default_timeout")));
  options = {};
  options.max_message_bytes = 0;
  EXPECT_THAT(Client::Create("127.0.0.1:1", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_message_bytes")));
  options = {};
  options.metadata = {{"Authorization", "Bearer x"}};
  EXPECT_THAT(Client::Create("127.0.0.1:1", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Authorization")));
  options.metadata = {{"authorization", "Bearer \n"}};
  EXPECT_THAT(Client::Create("127.0.0.1:1", options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.metadata = {{"authorization", "Bearer x"}, {"trace-bin", std::string("\0\1", 2)}};
  EXPECT_OK(Client::Create("127.0.0.1:1", options));
}

}  // namespace
}  // namespace tconv::testing
