// The benchmark's tables: per thread count, one row per suite case and batch, tconv against
// oneDNN, with geometric means; ends with the one-line summary scripts look for.
#ifndef TCONV_BENCH_REPORT_H_
#define TCONV_BENCH_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tconv::bench {

// Median milliseconds per call; negative when not measured (missing peer, failed check).
struct Row {
  std::string name;
  int64_t batch = 0;
  double flops = 0;              // nominal FLOPs per call
  double tconv_ms = -1;          // channels_last
  double tconv_cf_ms = -1;       // channels_first, same layer
  double onednn_ms = -1;
  double torch_ms = -1;          // PyTorch (libtorch)
  double tconv_1t_ms = -1;       // tconv channels_last with 1 thread, for the scaling column
  int64_t packed_bytes = 0;
};

struct Table {
  int threads = 1;
  double peak_gflops = 0;  // measured FMA peak with this many threads
  int peak_bits = 0;
  std::vector<Row> rows;
};

// Prints the table and its geometric means; returns the geomean of onednn_ms / tconv_ms over
// the rows where both were measured (0 when none).
double PrintTable(const Table& table);

}  // namespace tconv::bench

#endif  // TCONV_BENCH_REPORT_H_
