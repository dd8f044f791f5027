// Walking a saved model's config (Sequential and functional, nested models included) to
// find its Conv2DTranspose layers and where each one's weights are stored.
#ifndef TCONV_CLIENT_TOOL_KERAS_IMPORT_MODEL_WALK_H_
#define TCONV_CLIENT_TOOL_KERAS_IMPORT_MODEL_WALK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "keras_model.h"
#include "nlohmann/json.hpp"

namespace tconv::keras_import {

struct FoundLayer {
  std::string name;        // Keras layer name
  std::string path;        // "outer/inner/ct"
  std::string top_level;   // the top-level layer holding it (its group in a legacy .h5)
  std::string keras_path;  // "layers/sequential/layers/conv2d_transpose_1" in a .keras file
  nlohmann::json config;   // its get_config()
  // build_config.input_shape, which Keras records for a built layer (null when absent).
  nlohmann::json input_shape;
};

struct ModelLayers {
  std::vector<FoundLayer> layers;
  std::vector<SkippedLayer> skipped;
};

// `model` is {"class_name": "Sequential"|"Functional"|..., "config": {"layers": [...]}}.
// `tf_keras_names`: name the .keras weight groups as tf-keras does (its to_snake_case keeps
// digits with the word before them); else as Keras 3. INVALID_ARGUMENT naming `file`.
absl::StatusOr<ModelLayers> WalkModel(const nlohmann::json& model, const std::string& file,
                                      bool tf_keras_names);

// Keras' to_snake_case: "Conv2DTranspose" -> "conv2d_transpose".
std::string ToSnakeCase(const std::string& class_name, bool tf_keras);

}  // namespace tconv::keras_import

#endif  // TCONV_CLIENT_TOOL_KERAS_IMPORT_MODEL_WALK_H_
