// The Conv2DTranspose layers of a model saved by Keras, with their exact weights:
//
//   .keras (Keras 3, and tf-keras' native format): a zip of config.json, metadata.json
//          (keras_version) and model.weights.h5, where a layer's variables are
//          layers/<snake_case class name>[_N]/vars/0,1 in the order of its model's layers
//          (nested: layers/<model>/layers/<layer>/vars; Sequential models do not count their
//          InputLayer). Keras 3 also records the layer's name on vars, which is checked.
//   .h5    (tf-keras, and Keras 3's legacy format): HDF5 with the model_config and
//          keras_version attributes; model_weights/<top-level layer> lists weight_names, paths
//          below it ending in <layer name>/kernel[:0] and bias[:0].
//
// The reading is complete before anything is returned: every Conv2DTranspose config is
// parsed and validated, every kernel and bias checked against it (float32, shape, finite).
#ifndef TCONV_CLIENT_TOOL_KERAS_IMPORT_KERAS_MODEL_H_
#define TCONV_CLIENT_TOOL_KERAS_IMPORT_KERAS_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tconv/kernel/layer_config.h"

namespace tconv::keras_import {

struct ImportedLayer {
  std::string name;         // the Keras layer name
  std::string path;         // "outer/inner/ct": the models it sits in, for messages
  std::string config_json;  // its get_config(), carrying the Keras 3 marker for a Keras 3 file
  LayerConfig config;       // config_json parsed
  std::vector<int64_t> kernel_shape;  // (kh, kw, filters, in_channels)
  std::vector<float> kernel;
  std::vector<float> bias;  // empty without use_bias
};

struct SkippedLayer {
  std::string path;
  std::string class_name;
};

struct KerasModel {
  std::string format;         // "keras" (zip) or "h5"
  std::string keras_version;  // as recorded ("3.15.1"), empty when the file records none
  // Keras 3 when keras_version is 3.x; Keras 2 for 2.x; without a recorded version the
  // config's own marker decides (see LayerConfig's KerasVersion).
  std::optional<KerasVersion> version;
  std::vector<ImportedLayer> layers;  // in the model's order
  std::vector<SkippedLayer> skipped;  // every other layer but InputLayer
};

// INVALID_ARGUMENT naming the file (and the layer) for a file that is not a saved Keras
// model, a damaged archive, a config tconv refuses, or weights missing, of another dtype or
// shape; NOT_FOUND when the file cannot be opened.
absl::StatusOr<KerasModel> ReadKerasModel(const std::string& path);

}  // namespace tconv::keras_import

#endif  // TCONV_CLIENT_TOOL_KERAS_IMPORT_KERAS_MODEL_H_
