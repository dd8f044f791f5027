// The benchmark's tables: per thread count, one row per suite case and batch, tconv against
// oneDNN, PyTorch, XNNPACK and ONNX Runtime and against the fastest of them per case ("best
// peer", issue 6's and issue 17's bar), with geometric means; ends with the one-line summaries
// scripts look for. Also the machine's load, printed before and after the runs.
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
  double flops = 0;         // nominal FLOPs per call
  double tconv_ms = -1;     // channels_last
  double tconv_cf_ms = -1;  // channels_first, same layer
  double onednn_ms = -1;
  double torch_ms = -1;  // PyTorch (libtorch)
  double xnnpack_ms = -1;
  double ort_ms = -1;       // ONNX Runtime (Python API, see ort_peer.h)
  double tconv_1t_ms = -1;  // tconv channels_last on 1 thread in the same rounds (x1T column)
  int64_t packed_bytes = 0;
};

struct Table {
  int threads = 1;
  double peak_gflops = 0;  // measured FMA peak with this many threads
  int peak_bits = 0;
  std::vector<Row> rows;
};

// Geometric means of peer time / tconv time over the rows where both were measured; 0 when
// there are none. > 1 means tconv is faster.
struct Ratios {
  double onednn = 0;
  double best_peer = 0;      // the fastest of the measured peers, per row
  int best_peer_below1 = 0;  // rows where the best peer is faster than tconv
};

// Prints the table and its geometric means.
Ratios PrintTable(const Table& table);

// Writes what bench/plot.gp draws, one line per case and batch (the tables' rows, in order):
// name, then best-peer/tconv, channels_first/last and speed-up over 1 thread for each table
// (tab-separated, "NaN" where not measured). False when the file cannot be written.
bool WritePlotData(const std::vector<Table>& tables, const std::string& path);

// "geomean <what> time ratio: 1T=<x> 2T=<y>", one of the last lines scripts look for: `ratio` of
// the tables' geometric means (PrintTable's, indexed like `tables`), and with `below1`
// " below1=<n1>/<n2>": per table, the cases where the best peer is faster than tconv.
void PrintRatioLine(const char* what, const std::vector<Table>& tables,
                    const std::vector<Ratios>& geomeans, double Ratios::*ratio,
                    bool below1 = false);

// The machine's load, printed with the results: the machines are shared, and a load above the
// core count means the timings (2-thread ones most) include waiting for a CPU.
std::string LoadAverage();

}  // namespace tconv::bench

#endif  // TCONV_BENCH_REPORT_H_
