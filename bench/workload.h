// tconv_bench's workloads: one suite case at one batch size, with seeded weights and input and
// tconv's reference answer, and the conformance-tolerance check every library's answer passes
// before it is timed.
#ifndef TCONV_BENCH_WORKLOAD_H_
#define TCONV_BENCH_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "report.h"
#include "suite.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"

namespace tconv::bench {

struct Workload {
  SuiteCase c;
  int64_t batch = 0;
  LayerWeights weights;
  std::vector<float> input;  // NHWC
  std::vector<float> nchw;   // the same input, NCHW
  std::vector<float> want;   // tconv's reference, NHWC
  Shape4 out{};              // NHWC
  std::string error;         // the first failed check, if any
  Row row;
};

int64_t Elements(const Shape4& s);

// The process's ComputePool of `threads` threads, created on first use.
const ComputePool& Pool(int threads);

// The suite's cases whose name contains one of the comma-separated `cases` (every case when
// `cases` is empty), one workload per batch size, in suite order; only their case and batch
// are set (PrepareReference fills in the rest).
std::vector<Workload> SelectWorkloads(const std::vector<SuiteCase>& suite,
                                      const std::string& cases);

// Fills `w` (its case and batch set) with weights and input seeded from the case's name and
// batch, scaled like Glorot so outputs are O(1), and tconv's reference answer; a reference
// failure goes to w.error.
void PrepareReference(Workload& w);

// PrepareReference on every workload. The reference is plain single-threaded loops, so the
// workloads run side by side, one per CPU.
void PrepareReferences(std::vector<Workload>& workloads);

// "" when every element is within |got - want| <= 1e-4 + 1e-4 * |want|, else the worst one.
std::string Check(const std::vector<float>& got, const std::vector<float>& want);

}  // namespace tconv::bench

#endif  // TCONV_BENCH_WORKLOAD_H_
