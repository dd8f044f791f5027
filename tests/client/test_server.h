// An in-process tconv server on 127.0.0.1:0 over a fresh model repository in a temporary
// directory, for tests that talk to it through the real client or the `tconv` tool.
#ifndef TCONV_TESTS_CLIENT_TEST_SERVER_H_
#define TCONV_TESTS_CLIENT_TEST_SERVER_H_

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/grpc/server.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::testing {

class TestServer {
 public:
  struct Options {
    std::string grpc_address = "127.0.0.1:0";
    int64_t max_message_bytes = int64_t{256} << 20;
    bool mark_ready = true;  // false: started, health NOT_SERVING until MarkReady()
  };

  static absl::StatusOr<std::unique_ptr<TestServer>> Start(Options options) {
    auto test = std::unique_ptr<TestServer>(new TestServer);
    char pattern[] = "/tmp/tconv_client_test_XXXXXX";
    if (mkdtemp(pattern) == nullptr) return absl::InternalError("mkdtemp failed");
    test->dir_ = pattern;
    ASSIGN_OR_RETURN(auto executor, server::BatchExecutor::Create({/*threads=*/2}));
    server::LayerManager::Options manager_options;
    manager_options.repository_dir = test->dir_ + "/repository";
    manager_options.executor = std::move(executor);
    ASSIGN_OR_RETURN(test->manager_, server::LayerManager::Create(std::move(manager_options)));
    server::Server::Options server_options;
    server_options.grpc_address = options.grpc_address;
    server_options.max_message_bytes = options.max_message_bytes;
    server_options.manager = test->manager_.get();
    server_options.version = "test";
    ASSIGN_OR_RETURN(test->server_, server::Server::Create(std::move(server_options)));
    RETURN_IF_ERROR(test->server_->Start());
    if (options.mark_ready) test->server_->MarkReady();
    return test;
  }
  static absl::StatusOr<std::unique_ptr<TestServer>> Start() { return Start(Options()); }

  ~TestServer() {
    if (server_) server_->Shutdown(absl::Now() + absl::Seconds(5));
    server_.reset();
    manager_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // "127.0.0.1:<port>".
  const std::string& address() const { return server_->address(); }
  int port() const { return server_->port(); }
  server::Server& server() { return *server_; }
  // A scratch directory of this test (removed with the server).
  const std::string& dir() const { return dir_; }

 private:
  TestServer() = default;
  std::string dir_;
  std::unique_ptr<server::LayerManager> manager_;
  std::unique_ptr<server::Server> server_;
};

}  // namespace tconv::testing

#endif  // TCONV_TESTS_CLIENT_TEST_SERVER_H_
