// tconv_consumer [SERVER]: uses tconv::client from the installed package.
// Without SERVER: calls a loopback port nobody listens on and expects UNAVAILABLE.
// With SERVER (host:port of a running tconv-server): expects it live and SERVING.
// Exit status 0 when every expectation holds; prints what did not otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "tconv/client/client.h"

namespace {

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "tconv_consumer: " << what << ": " << status << "\n";
  return 1;
}

// A loopback port that refuses connections for as long as the returned socket stays open:
// bound but not listening, so nothing else can take it meanwhile.
int ReserveClosedPort(int& fd) {
  fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  return ntohs(address.sin_port);
}

int CheckUnavailable() {
  int fd = -1;
  const int port = ReserveClosedPort(fd);
  if (port <= 0) return Fail("reserve a port", absl::InternalError("socket/bind failed"));
  auto client = tconv::client::Client::Create("127.0.0.1:" + std::to_string(port));
  if (!client.ok()) return Fail("Client::Create", client.status());
  tconv::client::CallOptions call;
  call.timeout = absl::Seconds(10);
  const absl::StatusOr<bool> live = (*client)->ServerLive(call);
  close(fd);
  if (live.status().code() != absl::StatusCode::kUnavailable) {
    return Fail("ServerLive on a closed port should be UNAVAILABLE", live.status());
  }
  return 0;
}

int CheckServer(const std::string& target) {
  auto client = tconv::client::Client::Create(target);
  if (!client.ok()) return Fail("Client::Create", client.status());
  const absl::StatusOr<bool> live = (*client)->ServerLive();
  if (!live.ok() || !*live) return Fail("ServerLive", live.status());
  const auto health = (*client)->Health();
  if (!health.ok()) return Fail("Health", health.status());
  if (*health != tconv::client::ServingStatus::kServing) {
    return Fail("Health", absl::UnavailableError(std::string(ServingStatusName(*health))));
  }
  const auto layers = (*client)->ListLayers();
  if (!layers.ok()) return Fail("ListLayers", layers.status());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const absl::Status converted = tconv::client::FromGrpcStatus(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "no layer named 'gen1'"));
  if (converted.code() != absl::StatusCode::kNotFound ||
      converted.message() != "no layer named 'gen1'") {
    return Fail("FromGrpcStatus(NOT_FOUND)", converted);
  }
  const int result = argc > 1 ? CheckServer(argv[1]) : CheckUnavailable();
  if (result == 0) std::cout << "tconv_consumer: OK\n";
  return result;
}
