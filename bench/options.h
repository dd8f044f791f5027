// tconv_bench's own command-line flags (the usage is conv_bench.cc's first comment); Google
// Benchmark's are benchmark::Initialize's, which takes them out of argv first.
#ifndef TCONV_BENCH_OPTIONS_H_
#define TCONV_BENCH_OPTIONS_H_

#include <string>
#include <vector>

namespace tconv::bench {

// `suite` defaults to bench/suite.json (TCONV_BENCH_SUITE, set in bench/CMakeLists.txt).
struct Options {
  std::string suite = TCONV_BENCH_SUITE;
  std::vector<int> threads = {1, 2};
  std::string cases;      // only cases whose name contains one of these (comma-separated)
  double seconds = 0.25;  // target timing per measurement
  // Time single-thread runs in the calling thread's CPU time instead of wall time: on a
  // shared, oversubscribed machine that leaves out the time spent waiting for a CPU. Both
  // libraries run single-threaded work on the calling thread, so it stays a fair comparison.
  bool thread_cpu_clock = false;
  std::string plot_data;   // where to write the ratios bench/plot.gp draws (empty: nowhere)
  std::string ort_python;  // the ONNX Runtime venv's python; empty: ORT is not run
};

// Reads argv[1..argc) once benchmark::Initialize has removed its own flags: any argument left
// that is not one of Options' is reported on stderr and exits the process with status 2.
Options ParseOptions(int argc, char** argv);

}  // namespace tconv::bench

#endif  // TCONV_BENCH_OPTIONS_H_
