// tconv::client's system shared memory calls against a real in-process server: register a
// region, infer with the input and output in it (answers bitwise equal to Infer's), the
// refusals as the client reports them, and registration refused for a peer the server treats
// as remote when no token is configured.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/client/client.h"
#include "testing/status_matchers.h"
#include "testing/test_server.h"

namespace tconv::client {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kIn = 2 * 5 * 5 * 4, kOut = 2 * 10 * 10 * 8;  // elements

// The client's POSIX object: created, sized and mapped; unlinked and unmapped at the end.
struct ShmObject {
  explicit ShmObject(size_t bytes) : size(bytes) {
    key = absl::StrCat("/tconv_client_shm_", getpid());
    const int fd = shm_open(key.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
    data = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    close(fd);
  }
  ~ShmObject() {
    munmap(data, size);
    shm_unlink(key.c_str());
  }
  size_t size;
  std::string key;
  char* data = nullptr;
};

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
  ASSERT_OK((*client)->RegisterSystemSharedMemory("io", object.key, 0, object.size));
  std::vector<float> input(kIn);
  for (int64_t i = 0; i < kIn; ++i) input[i] = static_cast<float>(i % 17) / 8 - 1;
  std::memcpy(object.data, input.data(), kIn * sizeof(float));
  const std::vector<int64_t> shape = {2, 5, 5, 4};
  auto out_shape = (*client)->InferSharedMemory("shm", shape, {"io", 0, kIn * sizeof(float)},
                                                {"io", kIn * sizeof(float), kOut * sizeof(float)});
  ASSERT_OK(out_shape);
  EXPECT_THAT(*out_shape, ElementsAre(2, 10, 10, 8));
  auto reference = (*client)->Infer("shm", input, shape);
  ASSERT_OK(reference);
  ASSERT_EQ(reference->values.size(), static_cast<size_t>(kOut));
  EXPECT_EQ(std::memcmp(object.data + kIn * sizeof(float), reference->values.data(),
                        kOut * sizeof(float)),
            0);

  EXPECT_THAT((*client)->RegisterSystemSharedMemory("io", object.key, 0, 16),
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
  auto executor = server::BatchExecutor::Create({/*threads=*/1});
  ASSERT_OK(executor);
  char pattern[] = "/tmp/tconv_shm_client_XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  server::LayerManager::Options manager_options;
  manager_options.repository_dir = std::string(pattern) + "/repository";
  manager_options.executor = std::move(*executor);
  auto manager = server::LayerManager::Create(std::move(manager_options));
  ASSERT_OK(manager);
  server::Server::Options options;
  options.grpc_address = "127.0.0.1:0";
  options.manager = manager->get();
  options.control_peers.treat_local_as_remote = true;
  auto grpc_server = server::Server::Create(std::move(options));
  ASSERT_OK(grpc_server);
  ASSERT_OK((*grpc_server)->Start());
  (*grpc_server)->MarkReady();
  auto client = Client::Create((*grpc_server)->address());
  ASSERT_OK(client);
  ShmObject object(4096);
  EXPECT_THAT((*client)->RegisterSystemSharedMemory("r", object.key, 0, 4096),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("--auth_token_file")));
  (*grpc_server)->Shutdown(absl::Now() + absl::Seconds(5));
  grpc_server->reset();
  manager->reset();
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace tconv::client
