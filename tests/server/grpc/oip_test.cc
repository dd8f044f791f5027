// The Open Inference Protocol through a real in-process server: every RPC, the golden
// conformance cases, and each bad request with its exact status code.
#include <cctype>
#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tconv/npy/npy.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDcganG3[] =
    R"({"filters": 1, "kernel_size": [5, 5], "strides": [2, 2], "padding": "same",
        "use_bias": false, "activation": "tanh"})";
constexpr char kChannelsFirst[] =
    R"({"filters": 3, "kernel_size": 3, "strides": 2, "data_format": "channels_first"})";

class OipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestServer::Options options;
    options.repository_dir = dir_.path();
    auto server = TestServer::Start(options);
    ASSERT_OK(server);
    server_ = std::move(*server);
    ASSERT_OK(CreateLayer(*server_, SeededLayer("g3", kDcganG3, 64, 7)));
  }
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(OipTest, ServerLiveReadyAndMetadata) {
  inference::ServerLiveResponse live;
  ASSERT_OK(ToAbsl(server_->oip().ServerLive(Context().get(), {}, &live)));
  EXPECT_TRUE(live.live());
  inference::ServerReadyResponse ready;
  ASSERT_OK(ToAbsl(server_->oip().ServerReady(Context().get(), {}, &ready)));
  EXPECT_TRUE(ready.ready());
  inference::ServerMetadataResponse metadata;
  ASSERT_OK(ToAbsl(server_->oip().ServerMetadata(Context().get(), {}, &metadata)));
  EXPECT_EQ(metadata.name(), "tconv");
  EXPECT_EQ(metadata.version(), "test");
  EXPECT_THAT(metadata.extensions(), ElementsAre("model_repository", "model_configuration",
                                                 "statistics", "system_shared_memory"));
}

TEST_F(OipTest, ModelReadyAndMetadataFollowTheLayer) {
  ASSERT_OK(CreateLayer(*server_, SeededLayer("cf", kChannelsFirst, 5, 1)));
  const auto ready = [&](const std::string& name, const std::string& version) {
    inference::ModelReadyRequest request;
    request.set_name(name);
    request.set_version(version);
    inference::ModelReadyResponse response;
    EXPECT_OK(ToAbsl(server_->oip().ModelReady(Context().get(), request, &response)));
    return response.ready();
  };
  EXPECT_TRUE(ready("g3", ""));
  EXPECT_TRUE(ready("g3", "1"));
  EXPECT_FALSE(ready("g3", "2"));
  EXPECT_FALSE(ready("nope", ""));

  const auto metadata = [&](const std::string& name, const std::string& version) {
    inference::ModelMetadataRequest request;
    request.set_name(name);
    request.set_version(version);
    inference::ModelMetadataResponse response;
    absl::Status status = ToAbsl(server_->oip().ModelMetadata(Context().get(), request, &response));
    return status.ok() ? absl::StatusOr<inference::ModelMetadataResponse>(response) : status;
  };
  auto g3 = metadata("g3", "");
  ASSERT_OK(g3);
  EXPECT_EQ(g3->name(), "g3");
  EXPECT_THAT(g3->versions(), ElementsAre("1"));
  EXPECT_EQ(g3->platform(), "keras_conv2dtranspose");
  ASSERT_EQ(g3->inputs_size(), 1);
  EXPECT_EQ(g3->inputs(0).name(), "input");
  EXPECT_EQ(g3->inputs(0).datatype(), "FP32");
  EXPECT_THAT(g3->inputs(0).shape(), ElementsAre(-1, -1, -1, 64));
  ASSERT_EQ(g3->outputs_size(), 1);
  EXPECT_EQ(g3->outputs(0).name(), "output");
  EXPECT_THAT(g3->outputs(0).shape(), ElementsAre(-1, -1, -1, 1));
  auto cf = metadata("cf", "1");
  ASSERT_OK(cf);
  EXPECT_THAT(cf->inputs(0).shape(), ElementsAre(-1, 5, -1, -1));
  EXPECT_THAT(cf->outputs(0).shape(), ElementsAre(-1, 3, -1, -1));
  EXPECT_THAT(metadata("nope", ""), StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(metadata("g3", "2"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("'2'")));
}

std::string FloatBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// A CreateLayerRequest carrying a golden case's config and weights.
tconv::v1::CreateLayerRequest GoldenLayer(const std::string& name, const nlohmann::json& c) {
  const auto kernel = c["kernel"].get<std::vector<float>>();
  tconv::v1::CreateLayerRequest create;
  create.set_name(name);
  create.set_config_json(c["config"].dump());
  create.set_kernel(FloatBytes(kernel));
  if (!c["bias"].is_null()) create.set_bias(FloatBytes(c["bias"].get<std::vector<float>>()));
  std::string format = c["config"].value("data_format", "channels_last");
  for (char& ch : format) ch = static_cast<char>(std::tolower(ch));
  const auto shape = c["input_shape"].get<std::vector<int64_t>>();
  const int64_t in_channels = format == "channels_first" ? shape[1] : shape[3];
  const auto& size = c["config"]["kernel_size"];
  const int64_t kh = size.is_number() ? size.get<int64_t>() : size[0].get<int64_t>();
  const int64_t kw = size.is_number() ? size.get<int64_t>() : size[1].get<int64_t>();
  for (int64_t dim : {kh, kw, c["config"]["filters"].get<int64_t>(), in_channels}) {
    create.add_kernel_shape(dim);
  }
  return create;
}

// Every golden case of the conformance file, created through CreateLayer with its weights and
// run through ModelInfer, alternately with raw and typed (fp32_contents) inputs.
TEST_F(OipTest, GoldenCasesThroughTheServer) {
  std::ifstream file(std::string(TCONV_TEST_DATA_DIR) +
                     "/conformance/conv2d_transpose_cases.jsonl");
  ASSERT_TRUE(file.is_open());
  std::string line;
  int cases = 0;
  for (; std::getline(file, line); ++cases) {
    const auto c = nlohmann::json::parse(line);
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::string name = "case" + std::to_string(cases);
    ASSERT_OK(CreateLayer(*server_, GoldenLayer(name, c)));
    const auto input = c["input"].get<std::vector<float>>();
    auto request = RawInfer(name, c["input_shape"].get<std::vector<int64_t>>(), input);
    if (cases % 2 == 1) {  // the typed form
      request.clear_raw_input_contents();
      for (float value : input)
        request.mutable_inputs(0)->mutable_contents()->add_fp32_contents(value);
    }
    request.set_id("req-" + name);
    auto response = Infer(*server_, request);
    ASSERT_OK(response);
    EXPECT_EQ(response->model_name(), name);
    EXPECT_EQ(response->model_version(), "1");
    EXPECT_EQ(response->id(), "req-" + name);
    ASSERT_EQ(response->outputs_size(), 1);
    EXPECT_EQ(response->outputs(0).name(), "output");
    EXPECT_EQ(response->outputs(0).datatype(), "FP32");
    EXPECT_THAT(response->outputs(0).shape(),
                ::testing::ElementsAreArray(c["output_shape"].get<std::vector<int64_t>>()));
    const auto want = c["output"].get<std::vector<float>>();
    const std::vector<float> got = RawOutput(*response);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_LE(std::fabs(got[i] - want[i]), 1e-4 + 1e-4 * std::fabs(want[i])) << "element " << i;
    }
  }
  EXPECT_EQ(cases, 150);
}

// One request per protocol rule it breaks, each with its exact code; every one is counted
// by the metrics observer under that code.
TEST_F(OipTest, BadRequestsGetExactCodes) {
  const auto good = [] { return RawInfer("g3", {1, 4, 4, 64}, RandomValues(4 * 4 * 64, 1)); };
  ASSERT_OK(Infer(*server_, good()));
  struct Case {
    std::string what;
    std::function<void(inference::ModelInferRequest&)> mutate;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown model", [](auto& r) { r.set_model_name("nope"); }, absl::StatusCode::kNotFound,
       "nope"},
      {"other version", [](auto& r) { r.set_model_version("2"); }, absl::StatusCode::kNotFound,
       "version '2'"},
      {"datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("FP16"); },
       absl::StatusCode::kInvalidArgument, "expected FP32"},
      {"rank", [](auto& r) { r.mutable_inputs(0)->mutable_shape()->RemoveLast(); },
       absl::StatusCode::kInvalidArgument, "rank 4"},
      {"zero dim", [](auto& r) { r.mutable_inputs(0)->set_shape(0, 0); },
       absl::StatusCode::kInvalidArgument, ">= 1"},
      {"byte size", [](auto& r) { r.mutable_raw_input_contents(0)->resize(4 * 4 * 64 * 4 - 4); },
       absl::StatusCode::kInvalidArgument, "needs exactly 4096"},
      {"channels",
       [](auto& r) {
         r.mutable_inputs(0)->set_shape(3, 32);
         r.mutable_inputs(0)->set_shape(2, 8);
       },
       absl::StatusCode::kInvalidArgument, "64"},
      {"input name", [](auto& r) { r.mutable_inputs(0)->set_name("x"); },
       absl::StatusCode::kInvalidArgument, "unknown input 'x'"},
      {"output name", [](auto& r) { r.add_outputs()->set_name("y"); },
       absl::StatusCode::kInvalidArgument, "unknown output 'y'"},
      {"two inputs", [](auto& r) { *r.add_inputs() = r.inputs(0); },
       absl::StatusCode::kInvalidArgument, "expected exactly 1"},
      {"raw and typed",
       [](auto& r) { r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1); },
       absl::StatusCode::kInvalidArgument, "either in raw_input_contents"},
      {"typed count",
       [](auto& r) {
         r.clear_raw_input_contents();
         r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
       },
       absl::StatusCode::kInvalidArgument, "needs exactly 1024 fp32_contents"},
      {"typed type",
       [](auto& r) {
         r.clear_raw_input_contents();
         for (int i = 0; i < 1024; ++i)
           r.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
       },
       absl::StatusCode::kInvalidArgument, "1024 values of other types"},
  };
  int64_t invalid = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto request = good();
    c.mutate(request);
    EXPECT_THAT(Infer(*server_, request), StatusIs(c.code, HasSubstr(c.message)));
    if (c.code == absl::StatusCode::kInvalidArgument) ++invalid;
  }
  EXPECT_EQ(server_->observer().Count("g3", absl::StatusCode::kOk), 1);
  EXPECT_EQ(server_->observer().Count("g3", absl::StatusCode::kInvalidArgument), invalid);
  EXPECT_EQ(server_->observer().Count("nope", absl::StatusCode::kNotFound), 1);
  EXPECT_OK(Infer(*server_, good()));  // nothing broke
}

TEST_F(OipTest, RepositoryIndexLoadAndUnload) {
  inference::RepositoryIndexResponse index;
  ASSERT_OK(ToAbsl(server_->oip().RepositoryIndex(Context().get(), {}, &index)));
  ASSERT_EQ(index.models_size(), 1);
  EXPECT_EQ(index.models(0).name(), "g3");
  EXPECT_EQ(index.models(0).state(), "READY");

  inference::RepositoryModelUnloadRequest unload;
  unload.set_model_name("g3");
  inference::RepositoryModelUnloadResponse unloaded;
  ASSERT_OK(ToAbsl(server_->oip().RepositoryModelUnload(Context().get(), unload, &unloaded)));
  const auto input = RawInfer("g3", {1, 2, 2, 64}, RandomValues(256, 2));
  EXPECT_THAT(Infer(*server_, input), StatusIs(absl::StatusCode::kNotFound));
  index.Clear();
  ASSERT_OK(ToAbsl(server_->oip().RepositoryIndex(Context().get(), {}, &index)));
  ASSERT_EQ(index.models_size(), 1);
  EXPECT_EQ(index.models(0).state(), "UNAVAILABLE");
  EXPECT_THAT(index.models(0).reason(), HasSubstr("unloaded"));
  inference::RepositoryIndexRequest ready_only;
  ready_only.set_ready(true);
  index.Clear();
  ASSERT_OK(ToAbsl(server_->oip().RepositoryIndex(Context().get(), ready_only, &index)));
  EXPECT_EQ(index.models_size(), 0);

  inference::RepositoryModelLoadRequest load;
  load.set_model_name("g3");
  inference::RepositoryModelLoadResponse loaded;
  ASSERT_OK(ToAbsl(server_->oip().RepositoryModelLoad(Context().get(), load, &loaded)));
  EXPECT_OK(Infer(*server_, input));

  load.set_model_name("absent");
  EXPECT_THAT(ToAbsl(server_->oip().RepositoryModelLoad(Context().get(), load, &loaded)),
              StatusIs(absl::StatusCode::kNotFound));
  inference::RepositoryIndexRequest other_repository;
  other_repository.set_repository_name("elsewhere");
  EXPECT_THAT(ToAbsl(server_->oip().RepositoryIndex(Context().get(), other_repository, &index)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("elsewhere")));
}

// Triton's way to push a model: "config" plus the weight files as .npy bytes.
TEST_F(OipTest, RepositoryModelLoadCreatesALayerFromParameters) {
  std::ifstream file(std::string(TCONV_TEST_DATA_DIR) +
                     "/conformance/conv2d_transpose_cases.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(file, line));
  const auto c = nlohmann::json::parse(line);
  const auto golden = GoldenLayer("pushed", c);
  inference::RepositoryModelLoadRequest load;
  load.set_model_name("pushed");
  auto& parameters = *load.mutable_parameters();
  parameters["config"].set_string_param(golden.config_json());
  const auto kernel = c["kernel"].get<std::vector<float>>();
  const auto bias = c["bias"].get<std::vector<float>>();
  parameters["file:kernel.npy"].set_bytes_param(SerializeNpy(golden.kernel_shape(), kernel));
  parameters["file:bias.npy"].set_bytes_param(
      SerializeNpy({static_cast<int64_t>(bias.size())}, bias));
  inference::RepositoryModelLoadResponse loaded;
  ASSERT_OK(ToAbsl(server_->oip().RepositoryModelLoad(Context().get(), load, &loaded)));
  auto response = Infer(*server_, RawInfer("pushed", c["input_shape"].get<std::vector<int64_t>>(),
                                           c["input"].get<std::vector<float>>()));
  ASSERT_OK(response);
  const auto want = c["output"].get<std::vector<float>>();
  const auto got = RawOutput(*response);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_LE(std::fabs(got[i] - want[i]), 1e-4 + 1e-4 * std::fabs(want[i])) << i;
  }

  parameters.clear();
  parameters["config"].set_string_param(kDcganG3);
  parameters["in_channels"].set_int64_param(64);
  parameters["seed"].set_int64_param(7);
  load.set_model_name("g3_again");
  ASSERT_OK(ToAbsl(server_->oip().RepositoryModelLoad(Context().get(), load, &loaded)));
  const auto input = RawInfer("g3", {1, 3, 3, 64}, RandomValues(576, 3));
  auto again = input;
  again.set_model_name("g3_again");
  EXPECT_EQ(RawOutput(*Infer(*server_, input)), RawOutput(*Infer(*server_, again)));

  parameters["seed"].set_string_param("7");
  EXPECT_THAT(
      ToAbsl(server_->oip().RepositoryModelLoad(Context().get(), load, &loaded)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'seed' must be set as int64_param")));
  parameters.erase("seed");
  parameters["colour"].set_string_param("blue");
  EXPECT_THAT(
      ToAbsl(server_->oip().RepositoryModelLoad(Context().get(), load, &loaded)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown parameter 'colour'")));
}

}  // namespace
}  // namespace tconv::server::testing
