// The model repository through a real in-process server: a restart restores every layer
// bit-identically, and a corrupted entry is reported and skipped while the others serve.
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::server::testing {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

struct Served {
  std::string name;
  std::vector<int64_t> input_shape;
  tconv::v1::Layer layer;
  std::vector<float> output;
};

std::unique_ptr<TestServer> StartOn(const std::string& dir) {
  TestServer::Options options;
  options.repository_dir = dir;
  auto server = TestServer::Start(options);
  EXPECT_OK(server);
  return server.ok() ? *std::move(server) : nullptr;
}

absl::StatusOr<tconv::v1::Layer> Get(TestServer& server, const std::string& name) {
  tconv::v1::GetLayerRequest request;
  request.set_name(name);
  tconv::v1::GetLayerResponse response;
  absl::Status status = ToAbsl(server.layers().GetLayer(Context().get(), request, &response));
  if (!status.ok()) return status;
  return response.layer();
}

void Observe(TestServer& server, Served& served) {
  auto layer = Get(server, served.name);
  ASSERT_OK(layer);
  served.layer = *layer;
  int64_t count = 1;
  for (int64_t dim : served.input_shape) count *= dim;
  auto response = Infer(server, RawInfer(served.name, served.input_shape, RandomValues(count, 5)));
  ASSERT_OK(response);
  served.output = RawOutput(*response);
}

TEST(PersistenceTest, RestartRestoresEveryLayerBitIdentically) {
  TempDir dir;
  std::vector<Served> layers = {{"seeded", {2, 7, 7, 16}, {}, {}},
                                {"explicit", {1, 5, 4, 3}, {}, {}},
                                {"first", {2, 5, 6, 3}, {}, {}}};
  {
    auto server = StartOn(dir.path());
    ASSERT_NE(server, nullptr);
    ASSERT_OK(CreateLayer(*server, SeededLayer("seeded", R"({"filters": 8, "kernel_size": 5,
        "strides": 2, "padding": "same", "activation": "tanh"})",
                                               16, 42)));
    auto request = SeededLayer("explicit", R"({"filters": 2, "kernel_size": [3, 2],
        "strides": [1, 2], "output_padding": [0, 1], "activation": "gelu"})",
                               0, 0);
    const std::vector<float> kernel = RandomValues(3 * 2 * 2 * 3, 7);
    const std::vector<float> bias = RandomValues(2, 8);
    request.set_kernel(
        std::string(reinterpret_cast<const char*>(kernel.data()), kernel.size() * 4));
    request.set_bias(std::string(reinterpret_cast<const char*>(bias.data()), bias.size() * 4));
    for (int64_t dim : {3, 2, 2, 3}) request.add_kernel_shape(dim);
    request.mutable_batching()->set_max_batch_size(3);
    ASSERT_OK(CreateLayer(*server, request));
    ASSERT_OK(CreateLayer(*server, SeededLayer("first", R"({"filters": 3, "kernel_size": 3,
        "data_format": "channels_first", "kernel_initializer": "he_normal",
        "bias_initializer": "random_uniform"})",
                                               5, 9)));
    for (Served& served : layers) Observe(*server, served);
  }
  auto server = StartOn(dir.path());
  ASSERT_NE(server, nullptr);
  for (const Served& before : layers) {
    SCOPED_TRACE(before.name);
    Served after{before.name, before.input_shape, {}, {}};
    Observe(*server, after);
    EXPECT_EQ(after.layer.weight_checksum(), before.layer.weight_checksum());
    EXPECT_EQ(after.layer.config_json(), before.layer.config_json());
    EXPECT_EQ(after.layer.created().seconds(), before.layer.created().seconds());
    EXPECT_EQ(after.layer.SerializeAsString(), before.layer.SerializeAsString())
        << after.layer.DebugString() << " vs " << before.layer.DebugString();
    ASSERT_EQ(after.output.size(), before.output.size());
    EXPECT_EQ(0, std::memcmp(after.output.data(), before.output.data(),
                             before.output.size() * sizeof(float)));
  }
}

TEST(PersistenceTest, CorruptedEntryIsReportedAndSkipped) {
  TempDir dir;
  constexpr char kConfig[] = R"({"filters": 2, "kernel_size": 3, "strides": 2})";
  std::vector<float> good_output;
  {
    auto server = StartOn(dir.path());
    ASSERT_NE(server, nullptr);
    for (const char* name : {"good", "broken", "mangled"}) {
      ASSERT_OK(CreateLayer(*server, SeededLayer(name, kConfig, 4, 1)));
    }
    good_output = RawOutput(*Infer(*server, RawInfer("good", {1, 3, 3, 4}, RandomValues(36, 1))));
  }
  {  // a truncated weight file and a config that is not JSON
    std::ofstream(dir.path() + "/broken/kernel.npy", std::ios::trunc) << "\x93NUMPY";
    std::ofstream(dir.path() + "/mangled/config.json", std::ios::trunc) << "{\"keras\": [";
  }
  auto server = StartOn(dir.path());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(HealthOf(*server, ""), grpc::health::v1::HealthCheckResponse::SERVING);
  inference::RepositoryIndexResponse index;
  ASSERT_OK(ToAbsl(server->oip().RepositoryIndex(Context().get(), {}, &index)));
  ASSERT_EQ(index.models_size(), 3);
  std::map<std::string, inference::RepositoryIndexResponse::ModelIndex> by_name;
  for (const auto& model : index.models()) by_name[model.name()] = model;
  EXPECT_EQ(by_name["good"].state(), "READY");
  EXPECT_EQ(by_name["broken"].state(), "UNAVAILABLE");
  EXPECT_THAT(by_name["broken"].reason(), HasSubstr("kernel.npy"));
  EXPECT_EQ(by_name["mangled"].state(), "UNAVAILABLE");
  EXPECT_THAT(by_name["mangled"].reason(), HasSubstr("config.json"));

  auto good = Infer(*server, RawInfer("good", {1, 3, 3, 4}, RandomValues(36, 1)));
  ASSERT_OK(good);
  EXPECT_EQ(RawOutput(*good), good_output);
  EXPECT_THAT(Infer(*server, RawInfer("broken", {1, 3, 3, 4}, RandomValues(36, 1))),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("kernel.npy")));
  // The control plane shows them too: ListLayers lists the folders not served with their
  // reason, and GetLayer's NOT_FOUND says why.
  tconv::v1::ListLayersResponse list;
  ASSERT_OK(ToAbsl(server->layers().ListLayers(Context().get(), {}, &list)));
  ASSERT_EQ(list.layers_size(), 1);
  EXPECT_EQ(list.layers(0).name(), "good");
  ASSERT_EQ(list.unserved_size(), 2);
  EXPECT_EQ(list.unserved(0).name(), "broken");
  EXPECT_EQ(list.unserved(0).state(), "UNAVAILABLE");
  EXPECT_EQ(list.unserved(0).reason(), by_name["broken"].reason());
  EXPECT_EQ(list.unserved(1).name(), "mangled");
  EXPECT_THAT(list.unserved(1).reason(), HasSubstr("config.json"));
  EXPECT_THAT(Get(*server, "mangled"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("in the model repository but not served"),
                             HasSubstr("config.json"))));
  // Repaired by a new CreateLayer through the API.
  auto repair = SeededLayer("broken", kConfig, 4, 1);
  repair.set_replace(true);
  ASSERT_OK(CreateLayer(*server, repair));
  EXPECT_OK(Infer(*server, RawInfer("broken", {1, 3, 3, 4}, RandomValues(36, 1))));
  list.Clear();
  ASSERT_OK(ToAbsl(server->layers().ListLayers(Context().get(), {}, &list)));
  EXPECT_EQ(list.layers_size(), 2);
  ASSERT_EQ(list.unserved_size(), 1);
  EXPECT_EQ(list.unserved(0).name(), "mangled");
}

}  // namespace
}  // namespace tconv::server::testing
