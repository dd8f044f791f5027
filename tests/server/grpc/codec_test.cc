// The transport edge without a network: the status conversion and the protocol codecs'
// corner cases that are awkward to reach through a server.
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/grpc/layer_codec.h"
#include "server/grpc/oip_codec.h"
#include "server/grpc/status_edge.h"
#include "testing/status_matchers.h"

namespace tconv::server {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

TEST(StatusEdgeTest, KeepsEveryCanonicalCodeAndMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "what went wrong");
    const grpc::Status converted = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(converted.error_code()), code);
    EXPECT_EQ(converted.error_message(), "what went wrong");
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(StatusEdgeTest, CutsLongMessagesToOneKibibyteKeepingTheCode) {
  const std::string head = "layer '";
  const grpc::Status cut = ToGrpcStatus(absl::NotFoundError(head + std::string(10240, 'x')));
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LE(cut.error_message().size(), kMaxStatusMessageBytes);
  EXPECT_EQ(cut.error_message().rfind(head, 0), 0u);
  EXPECT_THAT(cut.error_message(), ::testing::EndsWith("... (message cut)"));
  const std::string exact(kMaxStatusMessageBytes, 'y');
  EXPECT_EQ(ToGrpcStatus(absl::InternalError(exact)).error_message(), exact);
}

TEST(StatusEdgeTest, NeverCutsInsideAUtf8Character) {
  std::string message;
  while (message.size() < 2 * kMaxStatusMessageBytes) message += "\xc3\xa9";  // é
  const std::string cut = ToGrpcStatus(absl::InternalError(message)).error_message();
  const size_t kept = cut.size() - std::string("... (message cut)").size();
  EXPECT_EQ(kept % 2, 0u);
  EXPECT_LE(cut.size(), kMaxStatusMessageBytes);
}

inference::ModelInferRequest Request(std::vector<int64_t> shape) {
  inference::ModelInferRequest request;
  request.set_model_name("m");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (int64_t dim : shape) input->add_shape(dim);
  return request;
}

TEST(OipCodecTest, HugeOrNegativeShapesAreRefusedBeforeAllocating) {
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  for (const auto& shape : std::vector<std::vector<int64_t>>{
           {big, big, 1, 1}, {1 << 20, 1 << 20, 1 << 20, 1}, {1, -1, 4, 4}, {1, 4, 4, -3}}) {
    auto request = Request(shape);
    request.add_raw_input_contents("abcd");
    EXPECT_THAT(DecodeInferRequest(request),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("every dimension >= 1")));
  }
}

TEST(OipCodecTest, DecodesRawAndTypedAlike) {
  auto raw = Request({1, 1, 2, 1});
  const float values[] = {1.5f, -2.25f};
  raw.add_raw_input_contents(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  auto typed = Request({1, 1, 2, 1});
  typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1.5f);
  typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(-2.25f);
  for (const auto& request : {raw, typed}) {
    auto decoded = DecodeInferRequest(request);
    ASSERT_OK(decoded);
    EXPECT_THAT(decoded->Input(), ::testing::ElementsAre(1.5f, -2.25f));
    EXPECT_EQ(decoded->shape, (Shape4{1, 1, 2, 1}));
  }
  // Raw bytes are read where the message holds them, not copied.
  auto borrowed = DecodeInferRequest(raw);
  ASSERT_OK(borrowed);
  EXPECT_EQ(static_cast<const void*>(borrowed->Input().data()),
            static_cast<const void*>(raw.raw_input_contents(0).data()));
  EXPECT_TRUE(borrowed->input.empty());
  typed.add_raw_input_contents();
  typed.add_raw_input_contents();
  EXPECT_THAT(DecodeInferRequest(typed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 raw entries")));
}

TEST(LayerCodecTest, UnsetBatchingLeavesTheChoiceToTheServer) {
  tconv::v1::CreateLayerRequest request;
  request.set_name("x");
  BatchingOptions defaults;
  defaults.max_batch_size = 7;
  auto spec = DecodeLayerSpec(request, defaults);
  ASSERT_OK(spec);
  EXPECT_FALSE(spec->batching.has_value());
  request.mutable_batching()->set_max_queue_size(5);
  spec = DecodeLayerSpec(request, defaults);
  ASSERT_OK(spec);
  ASSERT_TRUE(spec->batching.has_value());
  EXPECT_EQ(spec->batching->max_batch_size, 7);
  EXPECT_EQ(spec->batching->max_queue_size, 5);
  EXPECT_EQ(spec->batching->batch_timeout, defaults.batch_timeout);
}

TEST(LayerCodecTest, CreatedTimeKeepsNanoseconds) {
  LayerInfo info;
  info.name = "x";
  info.config.filters = 1;
  info.config.kernel_size = {1, 1};
  info.created = absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(123456789);
  tconv::v1::Layer layer;
  EncodeLayer(info, &layer);
  EXPECT_EQ(layer.created().seconds(), 1700000000);
  EXPECT_EQ(layer.created().nanos(), 123456789);
}

}  // namespace
}  // namespace tconv::server
