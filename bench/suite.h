// The benchmark suite (bench/suite.json, a copy of the layer list the project measures speed
// on): Keras Conv2DTranspose layers from the TensorFlow tutorials with their batch sizes.
#ifndef TCONV_BENCH_SUITE_H_
#define TCONV_BENCH_SUITE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::bench {

struct SuiteCase {
  std::string name;
  int64_t in_h = 0, in_w = 0, in_c = 0;  // one example's input, channels_last
  LayerConfig config;                    // channels_last, linear activation (not timed)
  std::vector<int64_t> batches;
  int64_t flops_per_example = 0;  // 2 * H * W * C * kh * kw * filters (suite README)
};

// Reads and validates a suite file: INVALID_ARGUMENT for a malformed entry or a config Keras
// would refuse, NOT_FOUND when the file cannot be read.
absl::StatusOr<std::vector<SuiteCase>> LoadSuite(const std::string& path);

}  // namespace tconv::bench

#endif  // TCONV_BENCH_SUITE_H_
