#include "server/metrics/process_collector.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace tconv::server {
namespace {

prometheus::MetricFamily Single(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

// Fields of /proc/self/stat after the command name, which may itself contain spaces; index 0
// is field 3 (state) of proc(5).
std::vector<std::string> StatFields() {
  std::ifstream file("/proc/self/stat");
  const std::string line((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto end_of_name = line.rfind(')');
  if (end_of_name == std::string::npos) return {};
  std::istringstream rest(line.substr(end_of_name + 1));
  return {std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
}

// Seconds since the epoch at which the machine booted (/proc/stat btime), or -1.
double BootTime() {
  std::ifstream file("/proc/stat");
  std::string key;
  while (file >> key) {
    if (key == "btime") {
      double value = -1;
      file >> value;
      return value;
    }
    file.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const std::vector<std::string> stat = StatFields();
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // proc(5) numbering: utime 14, stime 15, starttime 22, rss 24 -> indices 11, 12, 19, 21.
  if (stat.size() > 21 && ticks > 0) {
    families.push_back(Single("process_cpu_seconds_total", "User and system CPU time spent",
                              MetricType::Counter,
                              (std::stod(stat[11]) + std::stod(stat[12])) / ticks));
    families.push_back(Single("process_resident_memory_bytes", "Resident memory size",
                              MetricType::Gauge, std::stod(stat[21]) * page));
    const double boot = BootTime();
    if (boot >= 0) {
      families.push_back(Single("process_start_time_seconds",
                                "Start time of the process since the Unix epoch", MetricType::Gauge,
                                boot + std::stod(stat[19]) / ticks));
    }
  }
  std::error_code error;
  std::filesystem::directory_iterator fds("/proc/self/fd", error);
  if (!error) {
    const auto open = std::distance(begin(fds), end(fds));
    families.push_back(Single("process_open_fds", "Open file descriptors", MetricType::Gauge,
                              static_cast<double>(open)));
  }
  return families;
}

}  // namespace tconv::server
