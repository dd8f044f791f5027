// ProcessCollector: the standard process_* metrics (as the Go and Python clients export them),
// read from /proc/self at scrape time. prometheus-cpp 1.0 has no such collector.
#ifndef TCONV_SERVER_METRICS_PROCESS_COLLECTOR_H_
#define TCONV_SERVER_METRICS_PROCESS_COLLECTOR_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace tconv::server {

class ProcessCollector : public prometheus::Collectable {
 public:
  // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
  // process_start_time_seconds. A value that cannot be read is left out, never invented.
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace tconv::server

#endif  // TCONV_SERVER_METRICS_PROCESS_COLLECTOR_H_
