// tconv.v1.LayerService through a real in-process server: the control plane's RPCs, the shape
// rule it reports, and each bad request with its exact code (changing nothing).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDcganG2[] =
    R"({"filters": 64, "kernel_size": [5, 5], "strides": [2, 2], "padding": "same",
        "use_bias": false})";

class LayerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServer::Options options;
    options.repository_dir = dir_.path();
    options.batching.max_batch_size = 16;
    auto server = TestServer::Start(options);
    ASSERT_OK(server);
    server_ = std::move(*server);
  }
  absl::StatusOr<tconv::v1::Layer> Get(const std::string& name,
                                       std::vector<int64_t> input_shape = {},
                                       std::vector<int64_t>* output_shape = nullptr) {
    tconv::v1::GetLayerRequest request;
    request.set_name(name);
    for (int64_t dim : input_shape) request.add_input_shape(dim);
    tconv::v1::GetLayerResponse response;
    absl::Status status = ToAbsl(server_->layers().GetLayer(Context().get(), request, &response));
    if (!status.ok()) return status;
    if (output_shape != nullptr) {
      output_shape->assign(response.output_shape().begin(), response.output_shape().end());
    }
    return response.layer();
  }
  std::vector<std::string> Names() {
    tconv::v1::ListLayersResponse response;
    EXPECT_OK(ToAbsl(server_->layers().ListLayers(Context().get(), {}, &response)));
    std::vector<std::string> names;
    for (const auto& layer : response.layers()) names.push_back(layer.name());
    return names;
  }
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

// FNV-1a 64 over the kernel's then the bias' bytes, written here from its definition.
uint64_t Fnv1a(const std::string& kernel, const std::string& bias) {
  uint64_t hash = 14695981039346656037ull;
  for (const std::string* bytes : {&kernel, &bias}) {
    for (unsigned char byte : *bytes) hash = (hash ^ byte) * 1099511628211ull;
  }
  return hash;
}

TEST_F(LayerServiceTest, CreateGetListDelete) {
  const absl::Time before = absl::Now() - absl::Seconds(1);
  tconv::v1::CreateLayerResponse created;
  ASSERT_OK(ToAbsl(server_->layers().CreateLayer(Context().get(),
                                                 SeededLayer("g2", kDcganG2, 128, 3), &created)));
  const tconv::v1::Layer& layer = created.layer();
  EXPECT_EQ(layer.name(), "g2");
  EXPECT_EQ(nlohmann::json::parse(layer.config_json())["filters"], 64);
  EXPECT_EQ(layer.in_channels(), 128);
  EXPECT_THAT(layer.kernel_shape(), ElementsAre(5, 5, 64, 128));
  EXPECT_NE(layer.weight_checksum(), 0u);
  const absl::Time created_at =
      absl::FromUnixSeconds(layer.created().seconds()) + absl::Nanoseconds(layer.created().nanos());
  EXPECT_GE(created_at, before);
  EXPECT_LE(created_at, absl::Now() + absl::Seconds(1));
  EXPECT_EQ(layer.batching().max_batch_size(), 16);  // the server's default
  EXPECT_THAT(layer.shape_rule().input_shape(), ElementsAre(-1, -1, -1, 128));
  EXPECT_THAT(layer.shape_rule().output_shape(), ElementsAre(-1, -1, -1, 64));
  EXPECT_EQ(layer.shape_rule().formula(), "H_out = 2*H + 0, W_out = 2*W + 0");

  auto got = Get("g2");
  ASSERT_OK(got);
  EXPECT_EQ(got->SerializeAsString(), layer.SerializeAsString());
  ASSERT_OK(ToAbsl(server_->layers().CreateLayer(
      Context().get(), SeededLayer("a_first", kDcganG2, 8, 3), &created)));
  EXPECT_THAT(Names(), ElementsAre("a_first", "g2"));

  tconv::v1::DeleteLayerRequest remove;
  remove.set_name("g2");
  tconv::v1::DeleteLayerResponse removed;
  ASSERT_OK(ToAbsl(server_->layers().DeleteLayer(Context().get(), remove, &removed)));
  EXPECT_THAT(Get("g2"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("g2")));
  EXPECT_THAT(ToAbsl(server_->layers().DeleteLayer(Context().get(), remove, &removed)),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Names(), ElementsAre("a_first"));
  inference::RepositoryIndexResponse index;
  ASSERT_OK(ToAbsl(server_->oip().RepositoryIndex(Context().get(), {}, &index)));
  ASSERT_EQ(index.models_size(), 1);  // the folder is gone too
  EXPECT_EQ(index.models(0).name(), "a_first");
}

TEST_F(LayerServiceTest, ExplicitWeightsKeepTheirChecksumAndBatching) {
  std::vector<float> kernel = RandomValues(3 * 2 * 4 * 5, 11);
  std::vector<float> bias = RandomValues(4, 12);
  tconv::v1::CreateLayerRequest request;
  request.set_name("explicit");
  request.set_config_json(R"({"filters": 4, "kernel_size": [3, 2], "strides": [2, 1]})");
  request.set_kernel(std::string(reinterpret_cast<char*>(kernel.data()), kernel.size() * 4));
  request.set_bias(std::string(reinterpret_cast<char*>(bias.data()), bias.size() * 4));
  for (int64_t dim : {3, 2, 4, 5}) request.add_kernel_shape(dim);
  request.mutable_batching()->set_max_batch_size(4);
  request.mutable_batching()->mutable_batch_timeout()->set_nanos(250000);
  ASSERT_OK(CreateLayer(*server_, request));
  auto layer = Get("explicit");
  ASSERT_OK(layer);
  EXPECT_EQ(layer->weight_checksum(), Fnv1a(request.kernel(), request.bias()));
  EXPECT_EQ(layer->in_channels(), 5);
  EXPECT_EQ(layer->batching().max_batch_size(), 4);
  EXPECT_EQ(layer->batching().batch_timeout().nanos(), 250000);
  EXPECT_EQ(layer->batching().max_queue_size(), BatchingOptions{}.max_queue_size);
}

// Keras' output length (spec §3.1), written out here; GetLayer's rule and its output shape
// for a given input must both agree with it.
int64_t KerasOutputLength(int64_t n, int64_t k, int64_t s, int64_t d, bool same, int64_t op) {
  const int64_t kd = (k - 1) * d + 1;
  if (op < 0) return same ? n * s : n * s + std::max<int64_t>(kd - s, 0);
  const int64_t pad = same ? kd / 2 : 0;
  return (n - 1) * s + kd - 2 * pad + op;
}

TEST_F(LayerServiceTest, ShapeRuleMatchesKeras) {
  struct Case {
    int64_t k, s, d;
    bool same;
    int64_t op;
  };  // op < 0: None
  const std::vector<Case> cases = {{5, 2, 1, true, -1}, {2, 3, 1, false, -1}, {5, 3, 1, true, 0},
                                   {5, 3, 1, true, 2},  {3, 1, 2, false, -1}, {4, 1, 3, true, -1},
                                   {3, 2, 1, false, 1}, {1, 4, 1, false, -1}};
  int index = 0;
  for (const Case& c : cases) {
    const std::string name = "rule" + std::to_string(index++);
    nlohmann::json config = {{"filters", 2},
                             {"kernel_size", {c.k, c.k}},
                             {"strides", {c.s, c.s}},
                             {"dilation_rate", {c.d, c.d}},
                             {"padding", c.same ? "same" : "valid"}};
    config["output_padding"] = c.op < 0 ? nlohmann::json(nullptr) : nlohmann::json({c.op, c.op});
    SCOPED_TRACE(config.dump());
    ASSERT_OK(CreateLayer(*server_, SeededLayer(name, config.dump(), 3, 1)));
    for (int64_t n = 1; n <= 9; ++n) {
      std::vector<int64_t> output_shape;
      auto layer = Get(name, {2, n, n + 1, 3}, &output_shape);
      ASSERT_OK(layer);
      const int64_t h = KerasOutputLength(n, c.k, c.s, c.d, c.same, c.op);
      const int64_t w = KerasOutputLength(n + 1, c.k, c.s, c.d, c.same, c.op);
      EXPECT_THAT(output_shape, ElementsAre(2, h, w, 2)) << "n=" << n;
      const auto& rule = layer->shape_rule();
      EXPECT_EQ(rule.height().stride() * n + rule.height().offset(), h);
      EXPECT_EQ(rule.width().stride() * (n + 1) + rule.width().offset(), w);
    }
  }
  EXPECT_THAT(Get("rule0", {1, 4, 4, 7}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Get("rule0", {4, 4, 3}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected 4")));
}

TEST_F(LayerServiceTest, DuplicateNameAndReplace) {
  ASSERT_OK(CreateLayer(*server_, SeededLayer("g2", kDcganG2, 8, 1)));
  const uint64_t first = Get("g2")->weight_checksum();
  EXPECT_THAT(CreateLayer(*server_, SeededLayer("g2", kDcganG2, 8, 2)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("g2")));
  EXPECT_EQ(Get("g2")->weight_checksum(), first);  // unchanged
  auto replace = SeededLayer("g2", kDcganG2, 8, 2);
  replace.set_replace(true);
  ASSERT_OK(CreateLayer(*server_, replace));
  EXPECT_NE(Get("g2")->weight_checksum(), first);
}

TEST_F(LayerServiceTest, BadRequestsChangeNothing) {
  ASSERT_OK(CreateLayer(*server_, SeededLayer("keep", kDcganG2, 8, 1)));
  const uint64_t checksum = Get("keep")->weight_checksum();
  auto with_kernel = [](std::string kernel, std::vector<int64_t> shape, std::string bias) {
    auto request = SeededLayer("bad", R"({"filters": 2, "kernel_size": 1})", 0, 0);
    request.set_kernel(std::move(kernel));
    request.set_bias(std::move(bias));
    for (int64_t dim : shape) request.add_kernel_shape(dim);
    return request;
  };
  auto bias_only = SeededLayer("bad", R"({"filters": 2, "kernel_size": 1})", 3, 1);
  bias_only.set_bias(std::string(8, '\0'));
  auto replace_bad = SeededLayer("keep", R"({"filters": 0, "kernel_size": 1})", 3, 1);
  replace_bad.set_replace(true);
  const std::vector<std::pair<tconv::v1::CreateLayerRequest, std::string>> cases = {
      {SeededLayer("bad", "{not json", 3, 1), ""},
      {SeededLayer("bad", R"({"filters": 2})", 3, 1), "kernel_size"},
      {SeededLayer("../bad", kDcganG2, 3, 1), "../bad"},
      {SeededLayer("bad", kDcganG2, 0, 1), "in_channels"},
      {with_kernel(std::string(10, '\0'), {1, 1, 2, 1}, ""), "10 bytes"},
      {with_kernel(std::string(24, '\0'), {1, 1, 2, 2}, std::string(8, '\0')), "kernel_shape"},
      {with_kernel(std::string(24, '\0'), {1, 1, 2, 3}, std::string(4, '\0')), "bias"},
      {bias_only, "without kernel"},
      {replace_bad, "filters"},
  };
  for (const auto& [request, message] : cases) {
    SCOPED_TRACE(request.ShortDebugString().substr(0, 200));
    EXPECT_THAT(CreateLayer(*server_, request),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)));
  }
  EXPECT_THAT(Names(), ElementsAre("keep"));
  EXPECT_EQ(Get("keep")->weight_checksum(), checksum);
  inference::RepositoryIndexResponse index;
  ASSERT_OK(ToAbsl(server_->oip().RepositoryIndex(Context().get(), {}, &index)));
  EXPECT_EQ(index.models_size(), 1);
}

}  // namespace
}  // namespace tconv::server::testing
