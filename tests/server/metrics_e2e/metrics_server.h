// The server as tconv-server assembles it — LayerManager, gRPC Server and a real
// PrometheusMetrics as the observer of both — in-process on 127.0.0.1:0 with metrics on
// 127.0.0.1:0, called through the real tconv::client and scraped over HTTP like Prometheus.
#ifndef TCONV_TESTS_SERVER_METRICS_E2E_METRICS_SERVER_H_
#define TCONV_TESTS_SERVER_METRICS_E2E_METRICS_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/batcher.h"
#include "server/core/layer_manager.h"
#include "server/grpc/server.h"
#include "server/metrics/prometheus_metrics.h"
#include "tconv/client/client.h"
#include "tconv/kernel/status_macros.h"
#include "testing/exposition.h"
#include "testing/http_get.h"
#include "testing/test_server.h"

namespace tconv::server::testing {

inline constexpr char kTestVersion[] = "1.2.3-test";

class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start() {
    auto test = std::unique_ptr<MetricsServer>(new MetricsServer);
    ASSIGN_OR_RETURN(test->metrics_, PrometheusMetrics::Create({"127.0.0.1:0", kTestVersion}));
    ASSIGN_OR_RETURN(auto executor, BatchExecutor::Create({/*threads=*/2}));
    LayerManager::Options manager_options;
    manager_options.repository_dir = test->dir_.path() + "/repository";
    manager_options.executor = std::move(executor);
    manager_options.observer = test->metrics_.get();
    ASSIGN_OR_RETURN(test->manager_, LayerManager::Create(std::move(manager_options)));
    Server::Options server_options;
    server_options.grpc_address = "127.0.0.1:0";
    server_options.manager = test->manager_.get();
    server_options.version = kTestVersion;
    ASSIGN_OR_RETURN(test->server_, Server::Create(std::move(server_options)));
    RETURN_IF_ERROR(test->server_->Start());
    test->server_->MarkReady();
    ASSIGN_OR_RETURN(test->client_, client::Client::Create(test->server_->address()));
    return test;
  }

  client::Client& client() { return *client_; }
  const std::string& address() const { return server_->address(); }

  // GET /metrics from the exporter's real port.
  absl::StatusOr<std::string> Scrape() const {
    return tconv::testing::HttpGet(metrics_->port(), "/metrics");
  }
  // One sample of a fresh scrape; nullopt when the scrape failed or the sample is absent.
  std::optional<double> Sample(const std::string& name,
                               const tconv::testing::SampleLabels& labels = {}) const {
    absl::StatusOr<std::string> text = Scrape();
    if (!text.ok()) return std::nullopt;
    return tconv::testing::SampleValue(*text, name, labels);
  }

 private:
  MetricsServer() = default;
  // Destroyed in reverse: the client, then the server (drains), the manager, the exporter.
  TempDir dir_;
  std::unique_ptr<PrometheusMetrics> metrics_;
  std::unique_ptr<LayerManager> manager_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<client::Client> client_;
};

}  // namespace tconv::server::testing

#endif  // TCONV_TESTS_SERVER_METRICS_E2E_METRICS_SERVER_H_
