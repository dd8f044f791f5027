// tconv_consumer [--start_server=PATH]: uses tconv::client from the installed package.
// Without arguments: calls a loopback port nobody listens on and expects UNAVAILABLE.
// With --start_server: starts that tconv-server on 127.0.0.1:0 with a fresh repository, then
// creates a layer, runs an inference, lists and deletes through the client, and stops the
// server with SIGTERM (expecting a clean exit). Exit status 0 when every expectation holds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tconv/client/client.h"

extern char** environ;

namespace {

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "tconv_consumer: " << what << ": " << status << "\n";
  return 1;
}

int CheckUnavailable() {
  // Bound but not listening: the port refuses connections while the socket stays open.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Fail("reserve a port", absl::InternalError("socket/bind failed"));
  }
  auto client =
      tconv::client::Client::Create("127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
  if (!client.ok()) return Fail("Client::Create", client.status());
  const absl::StatusOr<bool> live = (*client)->ServerLive({absl::Seconds(10)});
  close(fd);
  if (live.status().code() != absl::StatusCode::kUnavailable) {
    return Fail("ServerLive on a closed port should be UNAVAILABLE", live.status());
  }
  return 0;
}

int CheckServer(const std::string& target) {
  auto created = tconv::client::Client::Create(target);
  if (!created.ok()) return Fail("Client::Create", created.status());
  tconv::client::Client& client = **created;
  const auto health = client.Health();
  if (!health.ok() || *health != tconv::client::ServingStatus::kServing) {
    return Fail("Health should be SERVING", health.status());
  }
  tconv::client::LayerSpec spec;
  spec.name = "consumer";
  spec.config_json = R"({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"})";
  spec.in_channels = 3;
  spec.seed = 1;
  if (auto layer = client.CreateLayer(spec); !layer.ok())
    return Fail("CreateLayer", layer.status());
  const std::vector<float> input(1 * 2 * 2 * 3, 0.5f);
  const auto output = client.Infer("consumer", input, std::vector<int64_t>{1, 2, 2, 3});
  if (!output.ok()) return Fail("Infer", output.status());
  if (output->shape != std::vector<int64_t>{1, 4, 4, 2} || output->values.size() != 32) {
    return Fail("Infer", absl::InternalError("expected a 1x4x4x2 output"));
  }
  const auto layers = client.ListLayers();
  if (!layers.ok() || layers->size() != 1) return Fail("ListLayers (1 layer)", layers.status());
  if (absl::Status deleted = client.DeleteLayer("consumer"); !deleted.ok()) {
    return Fail("DeleteLayer", deleted);
  }
  return 0;
}

// Reads the server's "tconv-server serving grpc=HOST:PORT ..." line (at most 60 s).
std::string ReadServingAddress(int fd) {
  std::string line;
  char c = 0;
  pollfd waiting{fd, POLLIN, 0};
  while (line.find('\n') == std::string::npos && poll(&waiting, 1, 60000) == 1 &&
         read(fd, &c, 1) == 1) {
    line += c;
  }
  const size_t start = line.find("grpc=");
  if (start == std::string::npos) return "";
  return line.substr(start + 5, line.find(' ', start) - start - 5);
}

int WithServer(const std::string& binary) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tconv_consumer_" + std::to_string(getpid()));
  int out[2];
  if (pipe(out) != 0) return Fail("pipe", absl::InternalError("pipe failed"));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<std::string> args = {binary, "--grpc_address=127.0.0.1:0",
                                   "--metrics_address=127.0.0.1:0", "--threads=1",
                                   "--model_repository=" + (dir / "repository").string()};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) return Fail("start " + binary, absl::InternalError(strerror(spawned)));
  const std::string address = ReadServingAddress(out[0]);
  int result = address.empty() ? Fail("tconv-server", absl::UnavailableError("did not start"))
                               : CheckServer(address);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  close(out[0]);
  std::filesystem::remove_all(dir);
  if (result == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    result = Fail("tconv-server after SIGTERM", absl::InternalError("unclean exit"));
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const absl::Status converted = tconv::client::FromGrpcStatus(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "no layer named 'gen1'"));
  if (converted.code() != absl::StatusCode::kNotFound ||
      converted.message() != "no layer named 'gen1'") {
    return Fail("FromGrpcStatus(NOT_FOUND)", converted);
  }
  const std::string flag = "--start_server=";
  const bool with_server = argc > 1 && std::string(argv[1]).rfind(flag, 0) == 0;
  const int result = with_server ? WithServer(argv[1] + flag.size()) : CheckUnavailable();
  if (result == 0) std::cout << "tconv_consumer: OK\n";
  return result;
}
