// The golden conformance cases of tests/conformance/ (see the format in
// /tests/conformance/conv2d_transpose_cases.jsonl), read independently of the tool's runner so
// that client tests compare the server's answers with the published expectations.
#ifndef TCONV_TESTS_CLIENT_GOLDEN_CASES_H_
#define TCONV_TESTS_CLIENT_GOLDEN_CASES_H_

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace tconv::testing {

inline const std::string kGoldenCasesFile =
    std::string(TCONV_TEST_DATA_DIR) + "/conformance/conv2d_transpose_cases.jsonl";
inline const std::string kErrorCasesFile =
    std::string(TCONV_TEST_DATA_DIR) + "/conformance/conv2d_transpose_errors.jsonl";
// Made by the real Keras 3 and tf-keras, configs exactly as their get_config() writes them.
inline const std::string kKerasCasesFile =
    std::string(TCONV_TEST_DATA_DIR) + "/conformance/keras3_cases.jsonl";

struct GoldenCase {
  std::string name;
  std::string config_json;
  bool channels_first = false;
  std::vector<int64_t> input_shape, kernel_shape, output_shape;
  std::vector<float> input, kernel, bias, output;
};

// Every golden case, in file order.
inline std::vector<GoldenCase> LoadGoldenCases() {
  std::vector<GoldenCase> cases;
  std::ifstream in(kGoldenCasesFile);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    GoldenCase c;
    c.name = j.at("name").get<std::string>();
    c.config_json = j.at("config").dump();
    const auto& format = j.at("config").value("data_format", nlohmann::json("channels_last"));
    c.channels_first = format.is_string() && format.get<std::string>() == "channels_first";
    c.input_shape = j.at("input_shape").get<std::vector<int64_t>>();
    c.output_shape = j.at("output_shape").get<std::vector<int64_t>>();
    c.input = j.at("input").get<std::vector<float>>();
    c.kernel = j.at("kernel").get<std::vector<float>>();
    if (!j.at("bias").is_null()) c.bias = j.at("bias").get<std::vector<float>>();
    c.output = j.at("output").get<std::vector<float>>();
    const int64_t in_channels = c.input_shape[c.channels_first ? 1 : 3];
    const int64_t filters = c.output_shape[c.channels_first ? 1 : 3];
    const int64_t taps = static_cast<int64_t>(c.kernel.size()) / (filters * in_channels);
    // Square or not, kh * kw = taps; the config holds the split.
    const auto& size = j.at("config").at("kernel_size");
    const int64_t kh = size.is_array() ? size[0].get<int64_t>() : size.get<int64_t>();
    c.kernel_shape = {kh, taps / kh, filters, in_channels};
    cases.push_back(std::move(c));
  }
  return cases;
}

// The published tolerance (tests/conformance README): |got - want| <= 1e-4 + 1e-4 * |want|.
inline bool WithinTolerance(float got, float want) {
  return std::isfinite(got) &&
         std::fabs(static_cast<double>(got) - want) <= 1e-4 + 1e-4 * std::fabs(want);
}

// FNV-1a 64 over the kernel's then the bias' float32 bytes: the server's weight checksum.
inline uint64_t WeightChecksum(const std::vector<float>& kernel, const std::vector<float>& bias) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::vector<float>* values : {&kernel, &bias}) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(values->data());
    for (size_t i = 0; i < values->size() * sizeof(float); ++i) {
      hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    }
  }
  return hash;
}

}  // namespace tconv::testing

#endif  // TCONV_TESTS_CLIENT_GOLDEN_CASES_H_
