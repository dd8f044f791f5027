// LayerConfig: the arguments of one Keras Conv2DTranspose layer, normalised the way Keras
// normalises them (see shared spec §1), read from and written to Keras' own JSON.
#ifndef TCONV_KERNEL_LAYER_CONFIG_H_
#define TCONV_KERNEL_LAYER_CONFIG_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tconv {

enum class Padding { kValid, kSame };
enum class DataFormat { kChannelsLast, kChannelsFirst };

// The TF 2.x activation set (spec §5), then the ones only Keras 3 has, at their Keras 3
// defaults (leaky_relu's negative_slope 0.2, celu's alpha 1, the shrinks' threshold 0.5,
// squareplus' b 4). `None` in Keras is kLinear.
//
// Which Keras wrote a config: Keras 3 (keras >= 3, TF >= 2.16's default) always writes the
// layer's "dtype" as a policy object {"module": "keras", "class_name": "DTypePolicy", ...} and
// its objects with "module"/"registered_name" keys; Keras 2 (tf.keras <= 2.15, tf-keras)
// writes a dtype string (or {"class_name": "Policy"}) and neither key. A config with either
// Keras 3 marker is read with Keras 3 semantics: the one spelling whose meaning changed,
// "hard_sigmoid" (Keras 2: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6), becomes
// kHardSigmoidKeras3, and ToJson writes the DTypePolicy marker back for it. Keras 3 spellings
// of Keras 2 names ("silu" for swish) are read as the same function.
enum class Activation {
  kLinear,
  kRelu,
  kElu,
  kSelu,
  kSoftmax,
  kSoftplus,
  kSoftsign,
  kTanh,
  kSigmoid,
  kHardSigmoid,
  kExponential,
  kSwish,
  kGelu,
  // Keras 3 only.
  kHardSigmoidKeras3,
  kRelu6,
  kLeakyRelu,
  kHardSilu,
  kMish,
  kLogSigmoid,
  kHardTanh,
  kCelu,
  kTanhShrink,
  kSoftShrink,
  kHardShrink,
  kSparsePlus,
  kSparseSigmoid,
  kSquareplus,
  kLogSoftmax,
  kSparsemax,
};

// Keras' lower-case names: "same", "channels_last", "hard_sigmoid", ...
std::string_view PaddingName(Padding padding);
std::string_view DataFormatName(DataFormat format);
std::string_view ActivationName(Activation activation);
// Parses an activation name as Keras does (exact, lower-case names; "linear" for None), with
// Keras 2 semantics, or Keras 3's when `keras3` (see Activation for how a config says which).
absl::StatusOr<Activation> ParseActivation(std::string_view name, bool keras3 = false);
// True for activations only Keras 3 computes (a config holding one is a Keras 3 config).
bool IsKeras3Activation(Activation activation);

// A (height, width) pair of a per-axis argument.
using Pair = std::array<int64_t, 2>;

// Limits that keep one layer's buffers addressable and its memory bounded. Configurations
// beyond them are refused with INVALID_ARGUMENT instead of risking overflow or OOM.
struct LayerLimits {
  static constexpr int64_t kMaxFilters = 1 << 16;                  // output channels
  static constexpr int64_t kMaxInChannels = 1 << 16;               // input channels
  static constexpr int64_t kMaxKernelSize = 64;                    // per axis
  static constexpr int64_t kMaxStride = 64;                        // per axis
  static constexpr int64_t kMaxDilation = 64;                      // per axis
  static constexpr int64_t kMaxKernelElements = int64_t{1} << 28;  // kh*kw*F*C: 1 GiB float32
  static constexpr int64_t kMaxSpatial = 1 << 16;                  // input or output H/W
  static constexpr int64_t kMaxTensorElements = int64_t{1} << 30;  // input or output: 4 GiB
};

// Initializers, regularizers and constraints in their normalised Keras form:
// {"class_name": "GlorotUniform", "config": {...}} or JSON null. Stored as JSON text so that
// the public header does not depend on a JSON library.
struct KerasObject {
  std::string json = "null";
  bool is_null() const { return json == "null"; }
  friend bool operator==(const KerasObject& a, const KerasObject& b) { return a.json == b.json; }
};

// Which Keras wrote a config, told by the marker only Keras 3 writes (see Activation). Two
// meanings differ: hard_sigmoid's formula (kHardSigmoidKeras3) and dilation rates, which Keras
// 3 lets differ per axis and Keras 2 asserts equal. A config without the marker (Keras 2, or
// written by hand) is read as Keras 2, the seed's semantics.
enum class KerasVersion { kKeras2, kKeras3 };
std::string_view KerasVersionName(KerasVersion version);  // "2" or "3"

struct LayerConfig {
  std::string name = "conv2d_transpose";  // Keras layer name; metadata only
  int64_t filters = 0;                    // required, > 0
  Pair kernel_size = {0, 0};              // required, > 0
  Pair strides = {1, 1};
  Padding padding = Padding::kValid;
  std::optional<Pair> output_padding;  // nullopt is Keras' None, which differs from 0 (§3)
  DataFormat data_format = DataFormat::kChannelsLast;
  Pair dilation_rate = {1, 1};
  Activation activation = Activation::kLinear;
  bool use_bias = true;
  KerasObject kernel_initializer = {R"({"class_name":"GlorotUniform","config":{"seed":null}})"};
  KerasObject bias_initializer = {R"({"class_name":"Zeros","config":{}})"};
  KerasObject kernel_regularizer, bias_regularizer, activity_regularizer;
  KerasObject kernel_constraint, bias_constraint;
  KerasVersion keras_version = KerasVersion::kKeras2;

  // Reads Keras JSON: a get_config() dict or {"class_name": "Conv2DTranspose", "config": {...}}
  // (tf.keras.layers.serialize, model.to_json() layer entries). Accepts every spelling Keras
  // accepts and validates the result; INVALID_ARGUMENT names the argument and the value.
  static absl::StatusOr<LayerConfig> FromJson(std::string_view json);

  // get_config()-style JSON that Keras accepts (pairs, lower-case names, "linear", ...).
  std::string ToJson() const;

  // Checks every construction-time rule of spec §1, §3.3, §3.4 and §11 plus LayerLimits.
  absl::Status Validate() const;

  // Effective (dilated) kernel size per axis: (k - 1) * d + 1.
  Pair EffectiveKernel() const;

  // Output length along `axis` (0 = height, 1 = width) for input length n (spec §3.1).
  int64_t OutputLength(int64_t n, int axis) const;

  friend bool operator==(const LayerConfig& a, const LayerConfig& b);
};

}  // namespace tconv

#endif  // TCONV_KERNEL_LAYER_CONFIG_H_
