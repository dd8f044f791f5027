// Which Keras wrote a config (the DTypePolicy marker only Keras 3 writes) and the meanings
// that differ between the versions: hard_sigmoid's formula and unequal dilation rates.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tconv/kernel/layer_config.h"
#include "testing/status_matchers.h"

namespace tconv {
namespace {

using ::tconv::testing::StatusIs;
using ::testing::HasSubstr;

// hard_sigmoid means what the Keras that wrote the config computes; Keras 3 is recognised by
// its DTypePolicy dtype (tf-keras writes "module" keys and {"class_name": "Policy"} too).
TEST(LayerConfigFromJson, HardSigmoidFollowsTheWritingKeras) {
  const std::string keras3_dtype =
      R"({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
          "registered_name": null})";
  const std::string keras2_policy =
      R"({"module": "keras.mixed_precision", "class_name": "Policy",
          "config": {"name": "mixed_float16"}, "registered_name": null})";
  auto with_dtype = [](const std::string& dtype) {
    return R"({"filters": 2, "kernel_size": 3, "activation": "hard_sigmoid", "dtype": )" + dtype +
           "}";
  };
  auto keras3 = LayerConfig::FromJson(with_dtype(keras3_dtype));
  ASSERT_OK(keras3);
  EXPECT_EQ(keras3->activation, Activation::kHardSigmoidKeras3);
  for (const std::string& dtype : {std::string(R"("float32")"), keras2_policy}) {
    auto keras2 = LayerConfig::FromJson(with_dtype(dtype));
    ASSERT_OK(keras2);
    EXPECT_EQ(keras2->activation, Activation::kHardSigmoid) << dtype;
  }
  // ToJson writes the marker back, so the Keras 3 meaning survives a round trip.
  auto again = LayerConfig::FromJson(keras3->ToJson());
  ASSERT_OK(again);
  EXPECT_EQ(*again, *keras3);
  EXPECT_THAT(keras3->ToJson(), ::testing::HasSubstr(R"("class_name":"DTypePolicy")"));
  // Keras 3's other spellings of the Keras 2 functions.
  auto silu = LayerConfig::FromJson(R"({"filters": 2, "kernel_size": 3, "activation": "silu"})");
  ASSERT_OK(silu);
  EXPECT_EQ(silu->activation, Activation::kSwish);
}

// A Keras 2 config with an activation only Keras 3 lists (here mish) stays a Keras 2 config
// through ToJson (fuzz_layer_config found it read back as Keras 3).
TEST(LayerConfigFromJson, KerasVersionSurvivesToJsonWhateverTheActivation) {
  for (const char* activation : {"mish", "relu6", "hard_sigmoid", "linear"}) {
    auto config = LayerConfig::FromJson(
        std::string(R"({"filters": 2, "kernel_size": 3, "dtype": "float32", "activation": ")") +
        activation + "\"}");
    ASSERT_OK(config);
    EXPECT_EQ(config->keras_version, KerasVersion::kKeras2) << activation;
    auto again = LayerConfig::FromJson(config->ToJson());
    ASSERT_OK(again);
    EXPECT_EQ(*again, *config) << activation;
  }
}

// Keras 3 computes unequal dilation rates (TF 2.x Keras asserts them equal): the marker
// decides, and the version it gives survives ToJson.
TEST(LayerConfigFromJson, UnequalDilationOnlyInAKeras3Config) {
  const std::string keras2 = R"({"filters": 2, "kernel_size": 3, "dilation_rate": [1, 2]})";
  EXPECT_THAT(LayerConfig::FromJson(keras2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dilation_rate (1, 2)")));
  auto keras3 = LayerConfig::FromJson(
      R"({"filters": 2, "kernel_size": 3, "dilation_rate": [1, 2], "dtype": {"module": "keras",
          "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}})");
  ASSERT_OK(keras3);
  EXPECT_EQ(keras3->keras_version, KerasVersion::kKeras3);
  EXPECT_EQ(keras3->EffectiveKernel(), (Pair{3, 5}));
  auto again = LayerConfig::FromJson(keras3->ToJson());
  ASSERT_OK(again);
  EXPECT_EQ(*again, *keras3);
}

}  // namespace
}  // namespace tconv
