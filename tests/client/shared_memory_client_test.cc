// tconv::client's system shared memory calls against a real in-process server: register a
// region, infer with the input and output in it (answers bitwise equal to Infer's), the
// refusals as the client reports them, and registration refused for a peer the server treats
// as remote when no token is configured.

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/client/client.h"
#include "testing/shm_object.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::client {
namespace {

using ::tconv::testing::ShmObject;
using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kIn = 2 * 5 * 5 * 4, kOut = 2 * 10 * 10 * 8;  // elements

LayerSpec Seeded() {
  LayerSpec spec;
  spec.name = "shm";
  spec.config_json = R"({"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"})";
  spec.in_channels = 4;
  spec.seed = 3;
  return spec;
}

TEST(SharedMemoryClientTest, InferThroughARegisteredRegionMatchesInfer) {
  auto server = server::testing::TestServer::Start();
  ASSERT_OK(server);
  auto client = Client::Create((*server)->address());
  ASSERT_OK(client);
  ASSERT_OK((*client)->CreateLayer(Seeded()));
  ShmObject object((kIn + kOut) * sizeof(float));
  ASSERT_OK((*client)->RegisterSystemSharedMemory("io", object.key(), 0, object.size()));
  std::vector<float> input(kIn);
  for (int64_t i = 0; i < kIn; ++i) input[i] = static_cast<float>(i % 17) / 8 - 1;
  std::memcpy(object.data(), input.data(), kIn * sizeof(float));
  const std::vector<int64_t> shape = {2, 5, 5, 4};
  auto out_shape = (*client)->InferSharedMemory("shm", shape, {"io", 0, kIn * sizeof(float)},
                                                {"io", kIn * sizeof(float), kOut * sizeof(float)});
  ASSERT_OK(out_shape);
  EXPECT_THAT(*out_shape, ElementsAre(2, 10, 10, 8));
  auto reference = (*client)->Infer("shm", input, shape);
  ASSERT_OK(reference);
  ASSERT_EQ(reference->values.size(), static_cast<size_t>(kOut));
  EXPECT_EQ(std::memcmp(object.data() + kIn * sizeof(float), reference->values.data(),
                        kOut * sizeof(float)),
            0);

  EXPECT_THAT((*client)->RegisterSystemSharedMemory("io", object.key(), 0, 16),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT((*client)->InferSharedMemory("shm", shape, {"io", 0, kIn * sizeof(float)},
                                           {"io", kIn * sizeof(float), 16}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs at least")));
  ASSERT_OK((*client)->UnregisterSystemSharedMemory("io"));
  EXPECT_THAT((*client)->InferSharedMemory("shm", shape, {"io", 0, kIn * sizeof(float)},
                                           {"io", kIn * sizeof(float), kOut * sizeof(float)}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("'io' is not registered")));
}

// Without a token only local peers may make the server map memory (a kControl call).
TEST(SharedMemoryClientTest, RegisterFromARemotePeerWithoutATokenIsRefused) {
  server::testing::TestServer::Options options;
  options.control_peers.treat_local_as_remote = true;
  auto server = server::testing::TestServer::Start(options);
  ASSERT_OK(server);
  auto client = Client::Create((*server)->address());
  ASSERT_OK(client);
  ShmObject object(4096);
  EXPECT_THAT((*client)->RegisterSystemSharedMemory("r", object.key(), 0, 4096),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("--auth_token_file")));
}

}  // namespace
}  // namespace tconv::client
