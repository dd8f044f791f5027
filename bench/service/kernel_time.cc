// kernel_time: the kernel-only time of one forward pass, to subtract from the service's
// end-to-end latency (bench/service/run.sh). Builds the layer the way tconv-server does
// (Keras config, weights from the initializers with a seed), runs it on a ComputePool of
// --threads threads, and prints the median and minimum of --calls timed calls:
//
//   kernel_time --config=cvae_d1.json --input_channels=32 --input_shape=1,7,7,32 --threads=2
//   median_us=41.2 min_us=39.8 calls=2000 output_shape=1,14,14,64
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tconv/kernel/compute_pool.h"
#include "tconv/kernel/conv2d_transpose.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/kernel/status_macros.h"

ABSL_FLAG(std::string, config, "", "Keras Conv2DTranspose config JSON file");
ABSL_FLAG(int64_t, input_channels, 0, "input channels of the layer");
ABSL_FLAG(uint64_t, seed, 0, "seed of the initializers (as tconv create --seed)");
ABSL_FLAG(std::string, input_shape, "", "B,H,W,C (the layer's data_format)");
ABSL_FLAG(int, threads, 0, "ComputePool threads; 0 = the CPUs available (tconv-server's default)");
ABSL_FLAG(int, calls, 2000, "timed calls (after 10% as many untimed warm-up calls)");

namespace tconv {
namespace {

absl::StatusOr<Shape4> ParseShape(const std::string& text) {
  Shape4 shape{};
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  if (parts.size() != 4) return absl::InvalidArgumentError("--input_shape needs B,H,W,C");
  for (int i = 0; i < 4; ++i) {
    if (!absl::SimpleAtoi(parts[i], &shape[i])) {
      return absl::InvalidArgumentError("--input_shape: bad number " + parts[i]);
    }
  }
  return shape;
}

absl::Status Measure() {
  std::ifstream file(absl::GetFlag(FLAGS_config));
  std::stringstream json;
  json << file.rdbuf();
  ASSIGN_OR_RETURN(LayerConfig config, LayerConfig::FromJson(json.str()));
  const int64_t in_channels = absl::GetFlag(FLAGS_input_channels);
  ASSIGN_OR_RETURN(LayerWeights weights,
                   InitializeWeights(config, in_channels, absl::GetFlag(FLAGS_seed)));
  ASSIGN_OR_RETURN(auto layer, Conv2DTranspose::Create(config, in_channels, std::move(weights)));
  ASSIGN_OR_RETURN(const Shape4 input_shape, ParseShape(absl::GetFlag(FLAGS_input_shape)));
  ASSIGN_OR_RETURN(const Shape4 output_shape, layer->OutputShape(input_shape));
  ASSIGN_OR_RETURN(auto pool, ComputePool::Create({absl::GetFlag(FLAGS_threads)}));
  std::vector<float> input(input_shape[0] * input_shape[1] * input_shape[2] * input_shape[3]);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<float>(i % 17) / 8 - 1;
  std::vector<float> output(output_shape[0] * output_shape[1] * output_shape[2] * output_shape[3]);
  const int calls = std::max(absl::GetFlag(FLAGS_calls), 1);
  std::vector<double> micros;
  for (int i = 0; i < calls + calls / 10; ++i) {
    const auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(layer->Run(input, input_shape, absl::MakeSpan(output), *pool));
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    if (i >= calls / 10) micros.push_back(took.count());
  }
  std::sort(micros.begin(), micros.end());
  std::printf("median_us=%.1f min_us=%.1f calls=%d output_shape=%lld,%lld,%lld,%lld\n",
              micros[micros.size() / 2], micros[0], calls, static_cast<long long>(output_shape[0]),
              static_cast<long long>(output_shape[1]), static_cast<long long>(output_shape[2]),
              static_cast<long long>(output_shape[3]));
  return absl::OkStatus();
}

}  // namespace
}  // namespace tconv

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = tconv::Measure();
  if (!status.ok()) {
    std::fprintf(stderr, "kernel_time: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
