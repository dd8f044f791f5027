#include "model_walk.h"

#include <map>
#include <regex>

#include "absl/strings/str_cat.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::keras_import {
namespace {

using Json = nlohmann::json;

// The layers of a model config: config.layers, or (Keras 2.0-era Sequential) config itself.
const Json* LayersOf(const Json& entry) {
  auto config = entry.find("config");
  if (config == entry.end()) return nullptr;
  if (config->is_array()) return &*config;
  if (!config->is_object()) return nullptr;
  auto layers = config->find("layers");
  return layers != config->end() && layers->is_array() ? &*layers : nullptr;
}

struct Walker {
  const std::string& file;
  bool tf_keras_names;
  ModelLayers out;

  absl::Status Walk(const Json& model, const std::string& model_path,
                    const std::string& keras_prefix, const std::string& top_level) {
    const Json* layers = LayersOf(model);
    const bool sequential = model.value("class_name", Json()) == "Sequential";
    std::map<std::string, int> used;  // snake_case name -> how many before
    for (const Json& entry : *layers) {
      if (!entry.is_object() || !entry.value("class_name", Json()).is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(file, ": a layer of ", model_path, " has no class_name"));
      }
      const std::string class_name = entry["class_name"].get<std::string>();
      const Json* config = entry.contains("config") ? &entry["config"] : nullptr;
      std::string name;
      if (config != nullptr && config->is_object() && config->value("name", Json()).is_string()) {
        name = (*config)["name"].get<std::string>();
      } else if (entry.value("name", Json()).is_string()) {
        name = entry["name"].get<std::string>();
      }
      if (class_name == "InputLayer" && sequential) continue;  // not among Sequential.layers
      // Keras saving_lib names each layer of a container by its class, counting repeats.
      std::string snake = ToSnakeCase(class_name, tf_keras_names);
      const int before = used[snake]++;
      if (before > 0) absl::StrAppend(&snake, "_", before);
      const std::string keras_path = absl::StrCat(keras_prefix, "layers/", snake);
      const std::string path = model_path.empty() ? name : absl::StrCat(model_path, "/", name);
      const std::string top = top_level.empty() ? name : top_level;
      if (class_name == "InputLayer") continue;
      if (class_name == "Conv2DTranspose") {
        if (config == nullptr || !config->is_object() || name.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(file, ": Conv2DTranspose layer ", path, " has no config with a name"));
        }
        Json input_shape;
        if (entry.contains("build_config") && entry["build_config"].is_object()) {
          input_shape = entry["build_config"].value("input_shape", Json());
        }
        out.layers.push_back({name, path, top, keras_path, *config, input_shape});
      } else if (LayersOf(entry) != nullptr) {
        RETURN_IF_ERROR(Walk(entry, path, keras_path + "/", top));
      } else {
        out.skipped.push_back({path, class_name});
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::string ToSnakeCase(const std::string& class_name, bool tf_keras) {
  static const std::regex kWordKeras3("(.)([A-Z][a-z]+)");
  static const std::regex kWordTfKeras("(.)([A-Z][a-z0-9]+)");
  static const std::regex kCamel("([a-z])([A-Z])");
  static const std::regex kNonWord("\\W+");
  std::string name = tf_keras ? class_name : std::regex_replace(class_name, kNonWord, "");
  name = std::regex_replace(name, tf_keras ? kWordTfKeras : kWordKeras3, "$1_$2");
  name = std::regex_replace(name, kCamel, "$1_$2");
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (tf_keras && !name.empty() && name[0] == '_') name = "private" + name;
  return name;
}

absl::StatusOr<ModelLayers> WalkModel(const Json& model, const std::string& file,
                                      bool tf_keras_names) {
  if (!model.is_object() || LayersOf(model) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(file,
                     ": the model config has no layers list (not a Sequential or functional model; "
                     "subclassed models do not record their layers)"));
  }
  Walker walker{file, tf_keras_names, {}};
  RETURN_IF_ERROR(walker.Walk(model, "", "", ""));
  return std::move(walker.out);
}

}  // namespace tconv::keras_import
