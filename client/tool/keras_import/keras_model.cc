#include "keras_model.h"

#include <cmath>
#include <fstream>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "hdf5_file.h"
#include "model_walk.h"
#include "nlohmann/json.hpp"
#include "tconv/kernel/status_macros.h"
#include "zip_archive.h"

namespace tconv::keras_import {
namespace {

using Json = nlohmann::json;

absl::StatusOr<Json> ParseModelJson(const std::string& text, const std::string& what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON: ", error.what()));
  }
}

// "3.15.1" -> Keras 3, "2.21.0" -> Keras 2; empty -> nullopt (the config decides).
absl::StatusOr<std::optional<KerasVersion>> VersionOf(const std::string& recorded,
                                                      const std::string& path) {
  if (recorded.empty()) return std::nullopt;
  int major = 0;
  const std::string digits = recorded.substr(0, recorded.find('.'));
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": keras_version \"", recorded, "\" is not a version"));
    }
    major = major * 10 + (c - '0');
  }
  if (digits.empty() || major < 2 || major > 3) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": written by Keras ", recorded,
                                                   "; tconv reads models of Keras 2 and 3"));
  }
  return major == 3 ? KerasVersion::kKeras3 : KerasVersion::kKeras2;
}

// A Keras 3 file's config says so with the marker Keras 3 always writes (the dtype policy),
// so that the layer keeps Keras 3 semantics wherever its config goes.
void MarkKeras3(Json& config) {
  Json& dtype = config["dtype"];
  if (dtype.is_object() && (dtype.value("class_name", "") == "DTypePolicy" ||
                            dtype.value("class_name", "") == "FloatDTypePolicy")) {
    return;
  }
  std::string name = "float32";
  if (dtype.is_string()) name = dtype.get<std::string>();
  if (dtype.is_object() && dtype.contains("config") && dtype["config"].is_object() &&
      dtype["config"].value("name", Json()).is_string()) {
    name = dtype["config"]["name"].get<std::string>();
  }
  dtype = Json{{"module", "keras"},
               {"class_name", "DTypePolicy"},
               {"config", {{"name", name}}},
               {"registered_name", nullptr}};
}

absl::Status CheckWeights(const std::string& where, const LayerConfig& config,
                          const Float32Array& kernel, const std::optional<Float32Array>& bias) {
  const auto& s = kernel.shape;
  if (s.size() != 4 || s[0] != config.kernel_size[0] || s[1] != config.kernel_size[1] ||
      s[2] != config.filters || s[3] < 1) {
    std::string got;
    for (int64_t d : s) absl::StrAppend(&got, got.empty() ? "" : ", ", d);
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": kernel has shape (", got, "), the config needs (", config.kernel_size[0], ", ",
        config.kernel_size[1], ", ", config.filters, ", in_channels)"));
  }
  if (config.use_bias != bias.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, config.use_bias ? ": use_bias is true but the file holds no bias"
                                            : ": use_bias is false but the file holds a bias"));
  }
  if (bias && (bias->shape.size() != 1 || bias->shape[0] != config.filters)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": bias is not of shape (", config.filters, ",)"));
  }
  for (const std::vector<float>* values : {&kernel.data, bias ? &bias->data : nullptr}) {
    if (values == nullptr) continue;
    for (float v : *values) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": weights hold ", v));
      }
    }
  }
  return absl::OkStatus();
}

// The kernel's in_channels must be what the layer was built for (build_config.input_shape),
// when the config records it: a kernel cut along that axis would otherwise still load.
absl::Status CheckInputChannels(const std::string& where, const LayerConfig& config,
                                const Json& input_shape, int64_t in_channels) {
  if (!input_shape.is_array() || input_shape.size() != 4) return absl::OkStatus();
  const Json& axis = input_shape[config.data_format == DataFormat::kChannelsLast ? 3 : 1];
  if (!axis.is_number_integer() || axis.get<int64_t>() == in_channels) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": kernel has shape (..., ", in_channels, ") for ", in_channels,
      " input channels, but the layer was built for input shape ", input_shape.dump()));
}

// The weights of one layer in a .keras weights file: vars/0 (kernel), vars/1 (bias).
absl::StatusOr<std::pair<Float32Array, std::optional<Float32Array>>> ZipWeights(
    const Hdf5File& h5, const FoundLayer& layer, const std::string& where) {
  const std::string vars = layer.keras_path + "/vars";
  if (!h5.Exists(vars)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": model.weights.h5 has no ", vars));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> recorded, h5.StringAttribute(vars, "name"));
  if (recorded && *recorded != layer.name) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": model.weights.h5's ", vars,
                                                   " belongs to layer \"", *recorded,
                                                   "\" (the config and weights disagree)"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names, h5.Children(vars));
  ASSIGN_OR_RETURN(Float32Array kernel, h5.ReadFloat32(vars + "/0"));
  std::optional<Float32Array> bias;
  if (h5.Exists(vars + "/1")) {
    ASSIGN_OR_RETURN(bias, h5.ReadFloat32(vars + "/1"));
  }
  if (names.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", vars, " holds ", names.size(), " variables, not 1 or 2"));
  }
  return std::make_pair(std::move(kernel), std::move(bias));
}

// The weights of one layer in a legacy .h5 file, found through weight_names.
absl::StatusOr<std::pair<Float32Array, std::optional<Float32Array>>> H5Weights(
    const Hdf5File& h5, const FoundLayer& layer, const std::string& where) {
  const std::string group = "model_weights/" + layer.top_level;
  ASSIGN_OR_RETURN(std::vector<std::string> names, h5.StringListAttribute(group, "weight_names"));
  std::optional<std::string> kernel_path, bias_path;
  for (const std::string& name : names) {
    std::vector<std::string> parts = absl::StrSplit(name, '/');
    if (parts.size() < 2 || parts[parts.size() - 2] != layer.name) continue;
    std::string variable = parts.back();
    if (absl::EndsWith(variable, ":0")) variable.resize(variable.size() - 2);
    if (variable == "kernel") {
      kernel_path = absl::StrCat(group, "/", name);
    } else if (variable == "bias") {
      bias_path = absl::StrCat(group, "/", name);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unexpected weight ", name, " in ", group));
    }
  }
  if (!kernel_path) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": no kernel among the weight_names of ", group));
  }
  ASSIGN_OR_RETURN(Float32Array kernel, h5.ReadFloat32(*kernel_path));
  std::optional<Float32Array> bias;
  if (bias_path) {
    ASSIGN_OR_RETURN(bias, h5.ReadFloat32(*bias_path));
  }
  return std::make_pair(std::move(kernel), std::move(bias));
}

absl::StatusOr<KerasModel> ReadLayers(const std::string& path, const Json& model_config,
                                      const Hdf5File& weights, KerasModel model) {
  ASSIGN_OR_RETURN(model.version, VersionOf(model.keras_version, path));
  const bool tf_keras_names = model.version != KerasVersion::kKeras3;
  ASSIGN_OR_RETURN(ModelLayers found, WalkModel(model_config, path, tf_keras_names));
  model.skipped = std::move(found.skipped);
  std::map<std::string, std::string> seen;  // layer name -> path
  for (FoundLayer& layer : found.layers) {
    const std::string where = absl::StrCat(path, ": layer ", layer.path);
    if (auto [it, fresh] = seen.emplace(layer.name, layer.path); !fresh) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": layers ", it->second, " and ",
                                                     layer.path, " are both named ", layer.name));
    }
    if (model.version == KerasVersion::kKeras3) MarkKeras3(layer.config);
    ImportedLayer imported;
    imported.name = layer.name;
    imported.path = layer.path;
    imported.config_json = layer.config.dump();
    absl::StatusOr<LayerConfig> config = LayerConfig::FromJson(imported.config_json);
    if (!config.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", config.status().message()));
    }
    if (model.version && config->keras_version != *model.version) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": the config is Keras ", std::string(KerasVersionName(config->keras_version)),
          "'s but the file was written by Keras ", model.keras_version));
    }
    imported.config = *std::move(config);
    absl::StatusOr<std::pair<Float32Array, std::optional<Float32Array>>> read =
        model.format == "keras" ? ZipWeights(weights, layer, where)
                                : H5Weights(weights, layer, where);
    if (!read.ok()) {
      // The weights file's messages start with the model file's name; `where` has it too.
      absl::string_view message = read.status().message();
      if (!absl::ConsumePrefix(&message, where)) absl::ConsumePrefix(&message, path);
      absl::ConsumePrefix(&message, ": ");
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", message));
    }
    RETURN_IF_ERROR(CheckWeights(where, imported.config, read->first, read->second));
    RETURN_IF_ERROR(
        CheckInputChannels(where, imported.config, layer.input_shape, read->first.shape[3]));
    imported.kernel_shape = read->first.shape;
    imported.kernel = std::move(read->first.data);
    if (read->second) imported.bias = std::move(read->second->data);
    model.layers.push_back(std::move(imported));
  }
  return model;
}

absl::StatusOr<KerasModel> ReadZipModel(const std::string& path) {
  KerasModel model;
  model.format = "keras";
  ASSIGN_OR_RETURN(std::optional<std::string> config_text, ReadZipEntry(path, "config.json"));
  ASSIGN_OR_RETURN(std::optional<std::string> metadata_text, ReadZipEntry(path, "metadata.json"));
  if (!config_text) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is a zip but not a saved Keras model (no config.json)"));
  }
  ASSIGN_OR_RETURN(Json config, ParseModelJson(*config_text, path + ": config.json"));
  if (metadata_text) {
    ASSIGN_OR_RETURN(Json metadata, ParseModelJson(*metadata_text, path + ": metadata.json"));
    if (metadata.is_object() && metadata.value("keras_version", Json()).is_string()) {
      model.keras_version = metadata["keras_version"].get<std::string>();
    }
  }
  ASSIGN_OR_RETURN(std::optional<std::string> weights_image,
                   ReadZipEntry(path, "model.weights.h5"));
  if (!weights_image) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no model.weights.h5 in the archive"));
  }
  ASSIGN_OR_RETURN(Hdf5File weights,
                   Hdf5File::FromImage(*std::move(weights_image), path + ": model.weights.h5"));
  return ReadLayers(path, config, weights, std::move(model));
}

absl::StatusOr<KerasModel> ReadH5Model(const std::string& path) {
  KerasModel model;
  model.format = "h5";
  absl::StatusOr<Hdf5File> opened = Hdf5File::Open(path, path);
  if (!opened.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not a saved Keras model: neither a zip (.keras) nor an HDF5 file (.h5)"));
  }
  Hdf5File h5 = *std::move(opened);
  ASSIGN_OR_RETURN(std::optional<std::string> config_text, h5.StringAttribute("/", "model_config"));
  if (!config_text) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " is HDF5 but not a saved Keras model (no model_config attribute; a weights-only "
        "file from save_weights has none)"));
  }
  ASSIGN_OR_RETURN(Json config, ParseModelJson(*config_text, path + ": model_config"));
  ASSIGN_OR_RETURN(std::optional<std::string> version, h5.StringAttribute("/", "keras_version"));
  if (version) model.keras_version = *version;
  if (!h5.Exists("model_weights")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no model_weights group"));
  }
  return ReadLayers(path, config, h5, std::move(model));
}

}  // namespace

absl::StatusOr<KerasModel> ReadKerasModel(const std::string& path) {
  if (!std::ifstream(path, std::ios::binary)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  }
  if (LooksLikeZip(path)) return ReadZipModel(path);
  return ReadH5Model(path);
}

}  // namespace tconv::keras_import
