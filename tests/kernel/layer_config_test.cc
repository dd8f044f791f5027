// LayerConfig: Keras' spellings, normalisation, get_config() round trip, every refusal with its
// exact code, and the output-length rule (spec §1, §3, §9, §11).
#include "tconv/kernel/layer_config.h"

#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/status_matchers.h"

namespace tconv {
namespace {

using ::tconv::testing::IsOkAndHolds;
using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// A minimal get_config() dict with `extra` members added (a JSON fragment, may be empty).
std::string Dict(const std::string& extra) {
  return R"({"filters": 2, "kernel_size": 3)" + (extra.empty() ? "" : ", " + extra) + "}";
}

LayerConfig MustParse(const std::string& json) {
  absl::StatusOr<LayerConfig> config = LayerConfig::FromJson(json);
  EXPECT_TRUE(config.ok()) << config.status() << "\n" << json;
  return config.ok() ? *config : LayerConfig{};
}

TEST(LayerConfigFromJson, MinimalDictGetsKerasDefaults) {
  const LayerConfig config = MustParse(R"({"filters": 4, "kernel_size": 3})");
  EXPECT_EQ(config.filters, 4);
  EXPECT_EQ(config.kernel_size, (Pair{3, 3}));
  EXPECT_EQ(config.strides, (Pair{1, 1}));
  EXPECT_EQ(config.padding, Padding::kValid);
  EXPECT_FALSE(config.output_padding.has_value());
  EXPECT_EQ(config.data_format, DataFormat::kChannelsLast);
  EXPECT_EQ(config.dilation_rate, (Pair{1, 1}));
  EXPECT_EQ(config.activation, Activation::kLinear);
  EXPECT_TRUE(config.use_bias);
  EXPECT_EQ(config.kernel_initializer.json,
            R"({"class_name":"GlorotUniform","config":{"seed":null}})");
  EXPECT_EQ(config.bias_initializer.json, R"({"class_name":"Zeros","config":{}})");
  EXPECT_TRUE(config.kernel_regularizer.is_null());
  EXPECT_TRUE(config.activity_regularizer.is_null());
  EXPECT_TRUE(config.bias_constraint.is_null());
}

// The TF 2.4-era get_config() of spec §9, verbatim.
constexpr char kSpecGetConfig[] = R"({"name": "conv2d_transpose", "trainable": true,
 "dtype": "float32", "filters": 64, "kernel_size": [4, 4], "strides": [2, 2],
 "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
 "activation": "linear", "use_bias": true,
 "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
 "bias_initializer": {"class_name": "Zeros", "config": {}},
 "kernel_regularizer": null, "bias_regularizer": null,
 "activity_regularizer": null, "kernel_constraint": null,
 "bias_constraint": null, "output_padding": null})";

TEST(LayerConfigFromJson, SpecGetConfigExample) {
  const LayerConfig config = MustParse(kSpecGetConfig);
  EXPECT_EQ(config.name, "conv2d_transpose");
  EXPECT_EQ(config.filters, 64);
  EXPECT_EQ(config.kernel_size, (Pair{4, 4}));
  EXPECT_EQ(config.strides, (Pair{2, 2}));
  EXPECT_EQ(config.padding, Padding::kSame);
}

TEST(LayerConfigToJson, ReproducesSpecGetConfigExample) {
  const LayerConfig config = MustParse(kSpecGetConfig);
  EXPECT_EQ(Json::parse(config.ToJson()), Json::parse(kSpecGetConfig));
  // Keras' key order, so the text reads like get_config().
  EXPECT_THAT(config.ToJson(),
              ::testing::StartsWith(R"({"name":"conv2d_transpose","trainable":true,"dtype":)"));
}

TEST(LayerConfigFromJson, WrapperFormsEqualTheDict) {
  const LayerConfig dict = MustParse(kSpecGetConfig);
  EXPECT_EQ(MustParse(std::string(R"({"class_name": "Conv2DTranspose", "config": )") +
                      kSpecGetConfig + "}"),
            dict);
  // Keras 3 / newer tf-keras serialization.
  EXPECT_EQ(MustParse(std::string(R"({"module": "keras.layers", "class_name": "Conv2DTranspose",
      "registered_name": null, "build_config": {"input_shape": [null, 8, 8, 3]}, "config": )") +
                      kSpecGetConfig + "}"),
            dict);
  // A functional model.to_json() layer entry.
  EXPECT_EQ(MustParse(std::string(R"({"class_name": "Conv2DTranspose", "name": "up",
      "inbound_nodes": [], "config": )") +
                      kSpecGetConfig + "}"),
            dict);
}

TEST(LayerConfigFromJson, IntShorthandEqualsPair) {
  EXPECT_EQ(MustParse(Dict(R"("strides": 2, "output_padding": 1, "dilation_rate": 1)")),
            MustParse(R"({"filters": 2, "kernel_size": [3, 3], "strides": [2, 2],
                          "output_padding": [1, 1], "dilation_rate": [1, 1]})"));
  EXPECT_EQ(MustParse(Dict(R"("filters": 2.0)")).filters, 2);  // Keras applies int()
}

TEST(LayerConfigFromJson, OutputPaddingNoneDiffersFromZero) {
  EXPECT_FALSE(MustParse(Dict(R"("output_padding": null)")).output_padding.has_value());
  EXPECT_EQ(MustParse(Dict(R"("output_padding": 0)")).output_padding, (Pair{0, 0}));
}

struct SpellingCase {
  std::string name;
  std::string fragment;
  Padding padding;
  DataFormat format;
};

void PrintTo(const SpellingCase& c, std::ostream* os) { *os << c.name; }

class LayerConfigSpelling : public ::testing::TestWithParam<SpellingCase> {};

TEST_P(LayerConfigSpelling, PaddingAndDataFormatInAnyCase) {
  const LayerConfig config = MustParse(Dict(GetParam().fragment));
  EXPECT_EQ(config.padding, GetParam().padding);
  EXPECT_EQ(config.data_format, GetParam().format);
}

INSTANTIATE_TEST_SUITE_P(
    AnyCase, LayerConfigSpelling,
    ::testing::Values(SpellingCase{"upper", R"("padding": "SAME", "data_format": "CHANNELS_FIRST")",
                                   Padding::kSame, DataFormat::kChannelsFirst},
                      SpellingCase{"mixed", R"("padding": "Valid", "data_format": "Channels_Last")",
                                   Padding::kValid, DataFormat::kChannelsLast},
                      SpellingCase{"lower", R"("padding": "same", "data_format": "channels_first")",
                                   Padding::kSame, DataFormat::kChannelsFirst},
                      SpellingCase{"null_format", R"("data_format": null)", Padding::kValid,
                                   DataFormat::kChannelsLast}),
    [](const auto& test_case) { return test_case.param.name; });

TEST(LayerConfigFromJson, ActivationNullIsLinearAndEveryTf2NameParses) {
  EXPECT_EQ(MustParse(Dict(R"("activation": null)")).activation, Activation::kLinear);
  const std::vector<std::string> names = {
      "linear", "relu",    "elu",          "selu",        "softmax", "softplus", "softsign",
      "tanh",   "sigmoid", "hard_sigmoid", "exponential", "swish",   "gelu"};
  for (const std::string& name : names) {
    const LayerConfig config = MustParse(Dict(R"("activation": ")" + name + "\""));
    EXPECT_EQ(ActivationName(config.activation), name);
    EXPECT_THAT(ParseActivation(name), IsOkAndHolds(config.activation));
  }
  EXPECT_THAT(ParseActivation("Relu"), StatusIs(kInvalid, HasSubstr("\"Relu\"")));
  EXPECT_EQ(PaddingName(Padding::kSame), "same");
  EXPECT_EQ(DataFormatName(DataFormat::kChannelsFirst), "channels_first");
}

TEST(LayerConfigFromJson, KerasMetadataKeysAreAccepted) {
  const LayerConfig config = MustParse(Dict(R"(
      "name": "gen_up1", "trainable": false, "groups": 1,
      "dtype": {"class_name": "Policy", "config": {"name": "mixed_float16"}},
      "batch_input_shape": [null, 7, 7, 256], "build_config": {"input_shape": [null, 7, 7, 256]},
      "module": "keras.layers", "registered_name": null)"));
  EXPECT_EQ(config.name, "gen_up1");
  MustParse(Dict(R"("dtype": {"module": "keras", "class_name": "DTypePolicy",
                              "config": {"name": "float32"}, "registered_name": null})"));
}

// How initializers, regularizers and constraints are stored: Keras' class name with every
// default filled in, whatever spelling the user gave.
struct ObjectCase {
  std::string name;
  std::string argument;
  std::string given;
  std::string stored;
};

void PrintTo(const ObjectCase& c, std::ostream* os) { *os << c.name; }

const KerasObject& Member(const LayerConfig& config, const std::string& argument) {
  if (argument == "kernel_initializer") return config.kernel_initializer;
  if (argument == "bias_initializer") return config.bias_initializer;
  if (argument == "kernel_regularizer") return config.kernel_regularizer;
  if (argument == "bias_regularizer") return config.bias_regularizer;
  if (argument == "activity_regularizer") return config.activity_regularizer;
  if (argument == "kernel_constraint") return config.kernel_constraint;
  return config.bias_constraint;
}

class LayerConfigKerasObject : public ::testing::TestWithParam<ObjectCase> {};

TEST_P(LayerConfigKerasObject, IsNormalised) {
  const ObjectCase& c = GetParam();
  const LayerConfig config = MustParse(Dict("\"" + c.argument + "\": " + c.given));
  EXPECT_EQ(Member(config, c.argument).json, c.stored);
  EXPECT_EQ(LayerConfig::FromJson(config.ToJson()).value(), config);  // stable under re-reading
}

INSTANTIATE_TEST_SUITE_P(
    Spellings, LayerConfigKerasObject,
    ::testing::Values(
        ObjectCase{"glorot_uniform_name", "kernel_initializer", R"("glorot_uniform")",
                   R"({"class_name":"GlorotUniform","config":{"seed":null}})"},
        ObjectCase{"class_name_as_string", "kernel_initializer", R"("HeNormal")",
                   R"({"class_name":"HeNormal","config":{"seed":null}})"},
        ObjectCase{"null_initializer_is_add_weight_default", "bias_initializer", "null",
                   R"({"class_name":"GlorotUniform","config":{"seed":null}})"},
        ObjectCase{
            "dict_fills_defaults", "kernel_initializer",
            R"({"class_name": "RandomNormal", "config": {"stddev": 0.02}})",
            R"({"class_name":"RandomNormal","config":{"mean":0.0,"seed":null,"stddev":0.02}})"},
        ObjectCase{"keras3_module_keys", "kernel_initializer",
                   R"({"module": "keras.initializers", "class_name": "GlorotUniform",
                       "config": {"seed": 7}, "registered_name": null})",
                   R"({"class_name":"GlorotUniform","config":{"seed":7}})"},
        ObjectCase{
            "tf1_dtype_dropped", "kernel_initializer",
            R"({"class_name": "GlorotUniform", "config": {"seed": null, "dtype": "float32"}})",
            R"({"class_name":"GlorotUniform","config":{"seed":null}})"},
        ObjectCase{
            "variance_scaling_lower_cased_normal_alias", "kernel_initializer",
            R"({"class_name": "VarianceScaling",
                       "config": {"scale": 2, "mode": "FAN_AVG", "distribution": "normal"}})",
            R"({"class_name":"VarianceScaling","config":{"distribution":"truncated_normal","mode":"fan_avg","scale":2.0,"seed":null}})"},
        ObjectCase{"constant_name", "bias_initializer", R"("constant")",
                   R"({"class_name":"Constant","config":{"value":0.0}})"},
        ObjectCase{"orthogonal_keras3_alias", "kernel_initializer", R"("OrthogonalInitializer")",
                   R"({"class_name":"Orthogonal","config":{"gain":1.0,"seed":null}})"},
        ObjectCase{"l2_name", "kernel_regularizer", R"("l2")",
                   R"({"class_name":"L2","config":{"l2":0.01}})"},
        ObjectCase{"l1_l2_function_defaults", "bias_regularizer", R"("l1_l2")",
                   R"({"class_name":"L1L2","config":{"l1":0.01,"l2":0.01}})"},
        ObjectCase{"l1l2_class_defaults", "activity_regularizer",
                   R"({"class_name": "L1L2", "config": {"l2": 0.001}})",
                   R"({"class_name":"L1L2","config":{"l1":0.0,"l2":0.001}})"},
        ObjectCase{"l2_legacy_l_argument", "kernel_regularizer",
                   R"({"class_name": "L2", "config": {"l": 0.1}})",
                   R"({"class_name":"L2","config":{"l2":0.1}})"},
        ObjectCase{"max_norm_name", "kernel_constraint", R"("max_norm")",
                   R"({"class_name":"MaxNorm","config":{"axis":0,"max_value":2.0}})"},
        ObjectCase{"max_norm_axis_list", "kernel_constraint",
                   R"({"class_name": "MaxNorm", "config": {"max_value": 3, "axis": [0, 1, 2]}})",
                   R"({"class_name":"MaxNorm","config":{"axis":[0,1,2],"max_value":3.0}})"},
        ObjectCase{"non_neg_name", "bias_constraint", R"("non_neg")",
                   R"({"class_name":"NonNeg","config":{}})"},
        ObjectCase{
            "min_max_norm_name", "kernel_constraint", R"("min_max_norm")",
            R"({"class_name":"MinMaxNorm","config":{"axis":0,"max_value":1.0,"min_value":0.0,"rate":1.0}})"}),
    [](const auto& test_case) { return test_case.param.name; });

// Spec §3.1, including its worked examples.
struct LengthCase {
  std::string name;
  int64_t n, k, s, d;
  Padding padding;
  std::optional<int64_t> op;
  int64_t expected;
};

void PrintTo(const LengthCase& c, std::ostream* os) { *os << c.name; }

class LayerConfigOutputLength : public ::testing::TestWithParam<LengthCase> {};

TEST_P(LayerConfigOutputLength, FollowsKerasDeconvOutputLength) {
  const LengthCase& c = GetParam();
  LayerConfig config;
  config.filters = 1;
  config.kernel_size = {c.k, 1};
  config.strides = {c.s, 1};
  config.dilation_rate = {c.d, c.d};
  config.padding = c.padding;
  if (c.op.has_value()) config.output_padding = Pair{*c.op, 0};
  EXPECT_EQ(config.OutputLength(c.n, /*axis=*/0), c.expected);
  EXPECT_EQ(config.EffectiveKernel()[0], (c.k - 1) * c.d + 1);
}

constexpr auto kSame = Padding::kSame;
constexpr auto kValid = Padding::kValid;

INSTANTIATE_TEST_SUITE_P(
    Spec, LayerConfigOutputLength,
    ::testing::Values(LengthCase{"n3_k5_s3_same_none", 3, 5, 3, 1, kSame, std::nullopt, 9},
                      LengthCase{"n3_k5_s3_same_op0", 3, 5, 3, 1, kSame, 0, 7},
                      LengthCase{"n3_k5_s3_same_op1", 3, 5, 3, 1, kSame, 1, 8},
                      LengthCase{"n3_k5_s3_same_op2", 3, 5, 3, 1, kSame, 2, 9},
                      LengthCase{"n3_k2_s3_valid_none", 3, 2, 3, 1, kValid, std::nullopt, 9},
                      LengthCase{"n3_k2_s3_valid_op0", 3, 2, 3, 1, kValid, 0, 8},
                      LengthCase{"n6_k3_s2_same_none", 6, 3, 2, 1, kSame, std::nullopt, 12},
                      LengthCase{"n4_k3_s2_valid_none", 4, 3, 2, 1, kValid, std::nullopt, 9},
                      LengthCase{"n4_k3_s2_valid_op1", 4, 3, 2, 1, kValid, 1, 10},
                      LengthCase{"n5_k3_d2_same_none", 5, 3, 1, 2, kSame, std::nullopt, 5},
                      LengthCase{"n5_k3_d2_valid_none", 5, 3, 1, 2, kValid, std::nullopt, 9},
                      LengthCase{"n5_k3_d3_same_op0", 5, 3, 1, 3, kSame, 0, 5}),
    [](const auto& test_case) { return test_case.param.name; });

TEST(LayerConfigToJson, RoundTripsEveryField) {
  const LayerConfig config = MustParse(R"({"name": "up", "filters": 7, "kernel_size": [3, 5],
      "strides": [2, 3], "padding": "SAME", "output_padding": [1, 2],
      "data_format": "channels_first", "activation": "hard_sigmoid", "use_bias": false,
      "kernel_initializer": {"class_name": "Orthogonal", "config": {"gain": 2, "seed": 3}},
      "bias_initializer": "ones", "kernel_regularizer": "l1", "bias_regularizer": "l2",
      "activity_regularizer": "l1_l2", "kernel_constraint": "unit_norm",
      "bias_constraint": "non_neg"})");
  const std::string json = config.ToJson();
  EXPECT_THAT(LayerConfig::FromJson(json), IsOkAndHolds(config)) << json;
  const Json dict = Json::parse(json);
  EXPECT_EQ(dict["kernel_size"], Json::parse("[3, 5]"));
  EXPECT_EQ(dict["output_padding"], Json::parse("[1, 2]"));
  EXPECT_EQ(dict["padding"], "same");
  EXPECT_EQ(dict["groups"], 1);
}

TEST(LayerConfigEquality, EveryFieldCounts) {
  const LayerConfig base = MustParse(Dict(""));
  std::vector<LayerConfig> changed(8, base);
  changed[0].name = "other";
  changed[1].filters = 3;
  changed[2].strides = {1, 2};
  changed[3].output_padding = Pair{0, 0};
  changed[4].activation = Activation::kTanh;
  changed[5].use_bias = false;
  changed[6].kernel_constraint.json = R"({"class_name":"NonNeg","config":{}})";
  changed[7].data_format = DataFormat::kChannelsFirst;
  for (const LayerConfig& other : changed) EXPECT_FALSE(other == base) << other.ToJson();
  EXPECT_TRUE(MustParse(Dict("")) == base);
}

// Every golden case's config (written with the spellings users pass) is accepted, predicts the
// golden output shape, and survives ToJson -> FromJson.
TEST(LayerConfigConformance, GoldenConfigsParseAndPredictOutputShape) {
  std::ifstream file(TCONV_TEST_DATA_DIR "/conformance/conv2d_transpose_cases.jsonl");
  ASSERT_TRUE(file.is_open());
  std::string line;
  int cases = 0;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    const Json golden = Json::parse(line);
    SCOPED_TRACE(golden["name"].get<std::string>());
    const LayerConfig config = MustParse(golden["config"].dump());
    const bool first = config.data_format == DataFormat::kChannelsFirst;
    const Json& in = golden["input_shape"];
    const Json& out = golden["output_shape"];
    EXPECT_EQ(config.OutputLength(in[first ? 2 : 1].get<int64_t>(), 0), out[first ? 2 : 1]);
    EXPECT_EQ(config.OutputLength(in[first ? 3 : 2].get<int64_t>(), 1), out[first ? 3 : 2]);
    EXPECT_THAT(LayerConfig::FromJson(config.ToJson()), IsOkAndHolds(config));
    ++cases;
  }
  EXPECT_EQ(cases, 150);
}

}  // namespace
}  // namespace tconv
