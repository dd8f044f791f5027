// HttpGet: a minimal blocking HTTP/1.0 GET over loopback, enough to scrape /metrics in tests
// the way Prometheus does (a real HTTP request to the real port), without an HTTP library.
#ifndef TCONV_TESTS_TESTING_HTTP_GET_H_
#define TCONV_TESTS_TESTING_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "absl/status/statusor.h"

namespace tconv::testing {

// Returns the response body of GET `path` from 127.0.0.1:`port` (5 s timeout), or an error
// for a refused connection or a status other than 200.
inline absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("send failed");
  }
  std::string response;
  char buffer[16384];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
  close(fd);
  const auto body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 200", 0) != 0 && response.rfind("HTTP/1.0 200", 0) != 0) {
    return absl::UnavailableError("unexpected response: " + response.substr(0, 80));
  }
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace tconv::testing

#endif  // TCONV_TESTS_TESTING_HTTP_GET_H_
