#include "suite.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tconv/kernel/status_macros.h"

namespace tconv::bench {
namespace {

using nlohmann::json;

Pair ReadPair(const json& value) {
  return {value.at(0).get<int64_t>(), value.at(1).get<int64_t>()};
}

absl::StatusOr<SuiteCase> ReadCase(const json& entry) {
  SuiteCase c;
  try {
    c.name = entry.at("name").get<std::string>();
    const json& hwc = entry.at("input_hwc");
    c.in_h = hwc.at(0).get<int64_t>();
    c.in_w = hwc.at(1).get<int64_t>();
    c.in_c = hwc.at(2).get<int64_t>();
    c.config.name = c.name;
    c.config.filters = entry.at("filters").get<int64_t>();
    c.config.kernel_size = ReadPair(entry.at("kernel_size"));
    c.config.strides = ReadPair(entry.at("strides"));
    c.config.dilation_rate = ReadPair(entry.at("dilation_rate"));
    c.config.padding =
        entry.at("padding").get<std::string>() == "same" ? Padding::kSame : Padding::kValid;
    if (!entry.at("output_padding").is_null()) {
      c.config.output_padding = ReadPair(entry.at("output_padding"));
    }
    c.config.use_bias = entry.at("use_bias").get<bool>();
    c.batches = entry.at("batches").get<std::vector<int64_t>>();
    c.flops_per_example = entry.at("flops_per_example").get<int64_t>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("suite entry ", entry.dump(), ": ", e.what()));
  }
  RETURN_IF_ERROR(c.config.Validate());
  const Pair& k = c.config.kernel_size;
  if (c.flops_per_example != 2 * c.in_h * c.in_w * c.in_c * k[0] * k[1] * c.config.filters) {
    return absl::InvalidArgumentError(absl::StrCat("suite case ", c.name, ": flops_per_example ",
                                                   c.flops_per_example,
                                                   " is not 2 * H * W * C * kh * kw * filters"));
  }
  return c;
}

}  // namespace

absl::StatusOr<std::vector<SuiteCase>> LoadSuite(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read suite file ", path));
  std::stringstream text;
  text << file.rdbuf();
  const json suite = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (suite.is_discarded() || !suite.contains("cases") || !suite["cases"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a suite file (no \"cases\")"));
  }
  std::vector<SuiteCase> cases;
  for (const json& entry : suite["cases"]) {
    ASSIGN_OR_RETURN(SuiteCase c, ReadCase(entry));
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace tconv::bench
