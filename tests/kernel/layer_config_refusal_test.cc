// LayerConfig refusals: every configuration Keras/TF refuse (spec §1, §3.3, §3.4, §11), wrong
// JSON types, unknown keys and limits give INVALID_ARGUMENT naming the argument and the value;
// every line of the conformance error file is refused.
#include <fstream>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tconv/kernel/layer_config.h"
#include "testing/status_matchers.h"

namespace tconv {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

struct RefusalCase {
  std::string name;
  std::string json;
  std::string argument;  // must appear in the message
  std::string value;     // must appear in the message too
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

// A valid dict with `fragment` overriding or adding members.
std::string With(const std::string& fragment) {
  Json dict = Json::parse(R"({"filters": 2, "kernel_size": [3, 3], "strides": [2, 2]})");
  dict.update(Json::parse("{" + fragment + "}"));
  return dict.dump();
}

std::string Without(const std::string& key) {
  Json dict = Json::parse(With(""));
  dict.erase(key);
  return dict.dump();
}

class LayerConfigRefusal : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(LayerConfigRefusal, IsInvalidArgumentNamingArgumentAndValue) {
  EXPECT_THAT(
      LayerConfig::FromJson(GetParam().json),
      StatusIs(kInvalid, AllOf(HasSubstr(GetParam().argument), HasSubstr(GetParam().value))))
      << GetParam().json;
}

INSTANTIATE_TEST_SUITE_P(
    WrongJsonTypes, LayerConfigRefusal,
    ::testing::Values(
        RefusalCase{"filters_string", With(R"("filters": "64")"), "filters", R"("64")"},
        RefusalCase{"filters_fraction", With(R"("filters": 2.5)"), "filters", "2.5"},
        RefusalCase{"filters_bool", With(R"("filters": true)"), "filters", "true"},
        RefusalCase{"kernel_size_three", With(R"("kernel_size": [3, 3, 3])"), "kernel_size",
                    "[3,3,3]"},
        RefusalCase{"kernel_size_one", With(R"("kernel_size": [3])"), "kernel_size", "[3]"},
        RefusalCase{"strides_fraction", With(R"("strides": [2, 2.5])"), "strides", "2.5"},
        RefusalCase{"output_padding_string", With(R"("output_padding": "1")"), "output_padding",
                    R"("1")"},
        RefusalCase{"use_bias_string", With(R"("use_bias": "yes")"), "use_bias", "yes"},
        RefusalCase{"padding_number", With(R"("padding": 1)"), "padding", "1"},
        RefusalCase{"activation_number", With(R"("activation": 5)"), "activation", "5"},
        RefusalCase{"name_number", With(R"("name": 5)"), "name", "5"},
        RefusalCase{"not_json", R"({"filters": 2,)", "JSON", "parse"},
        RefusalCase{"not_an_object", "[1, 2]", "object", "[1,2]"}),
    [](const auto& test_case) { return test_case.param.name; });

INSTANTIATE_TEST_SUITE_P(
    KerasRefusals, LayerConfigRefusal,
    ::testing::Values(
        RefusalCase{"filters_zero", With(R"("filters": 0)"), "filters", "0"},
        RefusalCase{"filters_negative", With(R"("filters": -3)"), "filters", "-3"},
        RefusalCase{"kernel_size_zero", With(R"("kernel_size": [0, 3])"), "kernel_size", "(0, 3)"},
        RefusalCase{"strides_negative", With(R"("strides": -1)"), "strides", "(-1, -1)"},
        RefusalCase{"dilation_zero", With(R"("strides": 1, "dilation_rate": [1, 0])"),
                    "dilation_rate", "(1, 0)"},
        RefusalCase{"padding_causal", With(R"("padding": "causal")"), "padding", "causal"},
        RefusalCase{"padding_full", With(R"("padding": "full")"), "padding", "full"},
        RefusalCase{"data_format_nhwc", With(R"("data_format": "NHWC")"), "data_format", "NHWC"},
        RefusalCase{"activation_unknown", With(R"("activation": "relu7")"), "activation", "relu7"},
        // A Keras 3 name tconv does not compute: glu halves the last axis.
        RefusalCase{"activation_keras3_glu", With(R"("activation": "glu")"), "activation", "glu"},
        RefusalCase{"activation_wrong_case", With(R"("activation": "ReLU")"), "activation", "ReLU"},
        RefusalCase{"output_padding_equals_stride", With(R"("output_padding": [2, 1])"),
                    "output_padding (2, 1) must be smaller than strides (2, 2) on every axis", ""},
        RefusalCase{"output_padding_negative", With(R"("output_padding": [-1, 0])"),
                    "output_padding", "(-1, 0)"},
        RefusalCase{"stride_with_dilation", With(R"("strides": [1, 2], "dilation_rate": 2)"),
                    "dilation_rate", "(2, 2)"},
        RefusalCase{"unequal_dilation", With(R"("strides": 1, "dilation_rate": [2, 1])"),
                    "dilation_rate", "(2, 1)"},
        RefusalCase{"same_even_kernel_op0",
                    With(R"("kernel_size": 4, "padding": "same", "output_padding": 0)"),
                    "output_padding (0, 0)", "(4, 4)"},
        RefusalCase{"same_even_dilated_kernel_op0_width",
                    With(R"("kernel_size": [3, 2], "strides": 1, "dilation_rate": 3,
                            "padding": "same", "output_padding": 0)"),
                    "width", "(7, 4)"},
        RefusalCase{"groups_two", With(R"("groups": 2)"), "groups", "2"},
        RefusalCase{"unknown_key", With(R"("kernel_sizes": 3)"), "argument", "kernel_sizes"},
        RefusalCase{"filters_missing", Without("filters"), "filters", "required"},
        RefusalCase{"kernel_size_missing", Without("kernel_size"), "kernel_size", "required"},
        RefusalCase{"dtype_int", With(R"("dtype": "int32")"), "dtype", "int32"},
        RefusalCase{"batch_input_shape_rank3", With(R"("batch_input_shape": [null, 7, 7])"),
                    "batch_input_shape", "[null,7,7]"},
        RefusalCase{"wrapper_other_class",
                    R"({"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3}})",
                    "class_name", "Conv2D"},
        RefusalCase{"wrapper_without_config", R"({"class_name": "Conv2DTranspose"})", "class_name",
                    "config"},
        RefusalCase{"wrapper_unknown_key",
                    R"({"class_name": "Conv2DTranspose", "config": {}, "weights": []})", "key",
                    "weights"}),
    [](const auto& test_case) { return test_case.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Limits, LayerConfigRefusal,
    ::testing::Values(RefusalCase{"filters", With(R"("filters": 65537)"), "filters", "65537"},
                      RefusalCase{"kernel_size", With(R"("kernel_size": [65, 1])"), "kernel_size",
                                  "(65, 1)"},
                      RefusalCase{"strides", With(R"("strides": [1, 65])"), "strides", "(1, 65)"},
                      RefusalCase{"dilation_rate", With(R"("strides": 1, "dilation_rate": 65)"),
                                  "dilation_rate", "(65, 65)"},
                      RefusalCase{"int64_overflow", With(R"("filters": 18446744073709551615)"),
                                  "filters", "18446744073709551615"}),
    [](const auto& test_case) { return test_case.param.name; });

INSTANTIATE_TEST_SUITE_P(
    KerasObjects, LayerConfigRefusal,
    ::testing::Values(
        RefusalCase{"unknown_initializer", With(R"("kernel_initializer": "glorot")"),
                    "kernel_initializer", "glorot"},
        RefusalCase{"regularizer_name_as_initializer", With(R"("bias_initializer": "l2")"),
                    "bias_initializer", "l2"},
        RefusalCase{"initializer_name_as_regularizer", With(R"("kernel_regularizer": "zeros")"),
                    "kernel_regularizer", "zeros"},
        RefusalCase{"unknown_constraint", With(R"("kernel_constraint": "max_norm2")"),
                    "kernel_constraint", "max_norm2"},
        RefusalCase{"initializer_number", With(R"("kernel_initializer": 42)"), "kernel_initializer",
                    "42"},
        RefusalCase{"unknown_initializer_argument",
                    With(R"("kernel_initializer": {"class_name": "GlorotUniform",
                                                   "config": {"seeds": 1}})"),
                    "kernel_initializer GlorotUniform", "seeds"},
        RefusalCase{"seed_string", With(R"("kernel_initializer": {"class_name": "HeNormal",
                                                   "config": {"seed": "1"}})"),
                    "seed", R"("1")"},
        RefusalCase{"variance_scaling_mode",
                    With(R"("kernel_initializer": {"class_name": "VarianceScaling",
                                                   "config": {"mode": "fan_sum"}})"),
                    "mode", "fan_sum"},
        RefusalCase{"variance_scaling_scale",
                    With(R"("kernel_initializer": {"class_name": "VarianceScaling",
                                                   "config": {"scale": -1}})"),
                    "scale", "-1"},
        RefusalCase{"variance_scaling_distribution",
                    With(R"("kernel_initializer": {"class_name": "VarianceScaling",
                                                   "config": {"distribution": "cauchy"}})"),
                    "distribution", "cauchy"},
        RefusalCase{"regularizer_factor_string",
                    With(R"("kernel_regularizer": {"class_name": "L2", "config": {"l2": "x"}})"),
                    "kernel_regularizer L2 l2", R"("x")"},
        RefusalCase{"object_unknown_key",
                    With(R"("bias_constraint": {"class_name": "NonNeg", "config": {},
                                                "extra": 1})"),
                    "bias_constraint", "extra"},
        RefusalCase{"object_without_class_name", With(R"("kernel_constraint": {"config": {}})"),
                    "kernel_constraint", "class_name"}),
    [](const auto& test_case) { return test_case.param.name; });

// Hostile input must be refused, never crash: nlohmann's dump() and copies recurse.
TEST(LayerConfigRefusalHostile, DeeplyNestedJsonIsRefused) {
  for (int depth : {1000, 200000}) {
    const std::string nest = std::string(depth, '[') + std::string(depth, ']');
    EXPECT_THAT(LayerConfig::FromJson(With(R"("filters": 1)").insert(1, "\"x\": " + nest + ", ")),
                StatusIs(kInvalid, HasSubstr("nested")));
    EXPECT_THAT(LayerConfig::FromJson(R"({"filters": )" + nest + R"(, "kernel_size": 3})"),
                StatusIs(kInvalid, HasSubstr("nested")));
  }
  // Brackets inside strings do not count.
  EXPECT_THAT(LayerConfig::FromJson(With(R"("name": ")" + std::string(500, '[') + "\"")),
              ::tconv::testing::IsOkAndHolds(::testing::Field(&LayerConfig::filters, 2)));
}

// Found by tests/fuzz/fuzz_layer_config: a number beyond double's range made nlohmann throw
// out_of_range (not parse_error), which escaped FromJson and terminated the server.
TEST(LayerConfigRefusalHostile, NumberBeyondDoubleRangeIsRefused) {
  for (const std::string& number :
       std::vector<std::string>{"1e400", "-1e400", "1" + std::string(400, '0') + ".5"}) {
    EXPECT_THAT(LayerConfig::FromJson(R"({"filters": )" + number + R"(, "kernel_size": 3})"),
                StatusIs(kInvalid, AllOf(HasSubstr("not valid JSON"), HasSubstr("overflow"))))
        << number;
  }
}

// Configs built in code go through the same rules.
TEST(LayerConfigValidate, RefusesProgrammaticConfigs) {
  LayerConfig config;
  config.filters = 4;
  config.kernel_size = {3, 3};
  EXPECT_OK(config.Validate());
  LayerConfig bad_object = config;
  bad_object.kernel_regularizer.json = "{not json";
  EXPECT_THAT(bad_object.Validate(), StatusIs(kInvalid, HasSubstr("kernel_regularizer")));
  bad_object.kernel_regularizer.json = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(bad_object.Validate(),
              StatusIs(kInvalid, HasSubstr("kernel_regularizer is nested deeper")));
  LayerConfig bad_activation = config;
  bad_activation.activation = static_cast<Activation>(99);
  EXPECT_THAT(bad_activation.Validate(), StatusIs(kInvalid));
  LayerConfig no_filters = config;
  no_filters.filters = 0;
  EXPECT_THAT(no_filters.Validate(), StatusIs(kInvalid, HasSubstr("filters 0")));
}

// Which argument each public refusal case must name (the lines carry no such field).
const std::map<std::string, std::string>& ExpectedArgument() {
  static const auto* expected = new std::map<std::string, std::string>{
      {"err000_op_equals_stride", "output_padding"},
      {"err001_op_with_stride1", "output_padding"},
      {"err002_op_negative", "output_padding"},
      {"err003_stride_and_dilation", "dilation_rate"},
      {"err004_stride_and_dilation_mixed_dims", "dilation_rate"},
      {"err005_padding_causal", "padding"},
      {"err006_padding_full", "padding"},
      {"err007_kernel_zero", "kernel_size"},
      {"err008_stride_zero", "strides"},
      {"err009_filters_zero", "filters"},
      {"err010_bad_data_format", "data_format"},
      {"err011_unknown_activation", "activation"},
      {"err012_same_even_kernel_op0", "output_padding"},
      {"err013_same_even_kernel_op0_one_dim", "width"},
      {"err014_same_k2_s1_op0", "output_padding"},
      {"err015_same_dil3_k2_op0", "dilation_rate"},
      {"err016_nonuniform_dilation", "dilation_rate"},
  };
  return *expected;
}

TEST(LayerConfigConformance, EveryPublicErrorCaseIsRefusedAtConfiguration) {
  std::ifstream file(TCONV_TEST_DATA_DIR "/conformance/conv2d_transpose_errors.jsonl");
  ASSERT_TRUE(file.is_open());
  std::string line;
  int cases = 0;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    const Json error_case = Json::parse(line);
    const auto name = error_case["name"].get<std::string>();
    ASSERT_EQ(ExpectedArgument().count(name), 1u) << "unexpected case " << name;
    EXPECT_THAT(LayerConfig::FromJson(error_case["config"].dump()),
                StatusIs(kInvalid, HasSubstr(ExpectedArgument().at(name))))
        << name;
    ++cases;
  }
  EXPECT_EQ(cases, 17);
}

}  // namespace
}  // namespace tconv
