#include "keras_objects.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::internal {
namespace {

// How a config field is read and stored. Floats are stored as JSON floats so that {"scale": 2}
// and {"scale": 2.0} normalise to the same text.
enum class Param { kFloat, kSeed, kAxis, kLowerString };

struct ParamSpec {
  const char* key;
  Param type;
  Json default_value;
};

struct ClassSpec {
  KerasObjectKind kind;
  const char* class_name;
  std::vector<const char*> aliases;  // the other names Keras resolves to this class
  std::vector<ParamSpec> params;     // the class's get_config() fields and their defaults
};

// TF 2.x (tf.keras.{initializers,regularizers,constraints}) plus Keras 3's extra aliases.
const std::vector<ClassSpec>& Classes() {
  using K = KerasObjectKind;
  const ParamSpec seed{"seed", Param::kSeed, nullptr};
  const ParamSpec axis{"axis", Param::kAxis, 0};
  // clang-format off
  static const auto* classes = new std::vector<ClassSpec>{
      {K::kInitializer, "Zeros", {"zeros", "zero"}, {}},
      {K::kInitializer, "Ones", {"ones", "one"}, {}},
      {K::kInitializer, "Constant", {"constant"}, {{"value", Param::kFloat, 0.0}}},
      {K::kInitializer, "RandomUniform", {"random_uniform", "uniform"},
       {{"minval", Param::kFloat, -0.05}, {"maxval", Param::kFloat, 0.05}, seed}},
      {K::kInitializer, "RandomNormal", {"random_normal", "normal"},
       {{"mean", Param::kFloat, 0.0}, {"stddev", Param::kFloat, 0.05}, seed}},
      {K::kInitializer, "TruncatedNormal", {"truncated_normal"},
       {{"mean", Param::kFloat, 0.0}, {"stddev", Param::kFloat, 0.05}, seed}},
      {K::kInitializer, "VarianceScaling", {"variance_scaling"},
       {{"scale", Param::kFloat, 1.0}, {"mode", Param::kLowerString, "fan_in"},
        {"distribution", Param::kLowerString, "truncated_normal"}, seed}},
      {K::kInitializer, "GlorotUniform", {"glorot_uniform"}, {seed}},
      {K::kInitializer, "GlorotNormal", {"glorot_normal"}, {seed}},
      {K::kInitializer, "HeUniform", {"he_uniform"}, {seed}},
      {K::kInitializer, "HeNormal", {"he_normal"}, {seed}},
      {K::kInitializer, "LecunUniform", {"lecun_uniform"}, {seed}},
      {K::kInitializer, "LecunNormal", {"lecun_normal"}, {seed}},
      {K::kInitializer, "Orthogonal", {"orthogonal", "OrthogonalInitializer"},
       {{"gain", Param::kFloat, 1.0}, seed}},
      {K::kInitializer, "Identity", {"identity", "IdentityInitializer"},
       {{"gain", Param::kFloat, 1.0}}},
      {K::kRegularizer, "L1", {"l1"}, {{"l1", Param::kFloat, 0.01}}},
      {K::kRegularizer, "L2", {"l2"}, {{"l2", Param::kFloat, 0.01}}},
      {K::kRegularizer, "L1L2", {"l1_l2"},
       {{"l1", Param::kFloat, 0.0}, {"l2", Param::kFloat, 0.0}}},
      {K::kRegularizer, "OrthogonalRegularizer", {"orthogonal_regularizer"},
       {{"factor", Param::kFloat, 0.01}, {"mode", Param::kLowerString, "rows"}}},
      {K::kConstraint, "MaxNorm", {"max_norm", "maxnorm"},
       {{"max_value", Param::kFloat, 2.0}, axis}},
      {K::kConstraint, "NonNeg", {"non_neg", "nonneg"}, {}},
      {K::kConstraint, "UnitNorm", {"unit_norm", "unitnorm"}, {axis}},
      {K::kConstraint, "MinMaxNorm", {"min_max_norm"},
       {{"min_value", Param::kFloat, 0.0}, {"max_value", Param::kFloat, 1.0},
        {"rate", Param::kFloat, 1.0}, axis}},
      {K::kConstraint, "RadialConstraint", {"radial_constraint"}, {}},
  };
  // clang-format on
  return *classes;
}

absl::string_view KindName(KerasObjectKind kind) {
  switch (kind) {
    case KerasObjectKind::kInitializer:
      return "initializer";
    case KerasObjectKind::kRegularizer:
      return "regularizer";
    case KerasObjectKind::kConstraint:
      return "constraint";
  }
  return "object";
}

absl::StatusOr<const ClassSpec*> FindClass(absl::string_view name, KerasObjectKind kind,
                                           absl::string_view argument) {
  std::vector<absl::string_view> known;
  for (const ClassSpec& spec : Classes()) {
    if (spec.kind != kind) continue;
    known.push_back(spec.class_name);
    if (name == spec.class_name) return &spec;
    for (const char* alias : spec.aliases) {
      if (name == alias) return &spec;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(argument, " \"", name, "\" is not a Keras ",
                                                 KindName(kind), "; expected one of ",
                                                 absl::StrJoin(known, ", ")));
}

absl::StatusOr<Json> ReadParam(const Json& value, Param type, absl::string_view argument) {
  switch (type) {
    case Param::kFloat: {
      ASSIGN_OR_RETURN(double number, ReadNumber(value, argument));
      return Json(number);
    }
    case Param::kSeed: {
      if (value.is_null()) return Json(nullptr);
      ASSIGN_OR_RETURN(int64_t seed, ReadInt(value, argument));
      return Json(seed);
    }
    case Param::kAxis: {
      if (!value.is_array()) {
        ASSIGN_OR_RETURN(int64_t axis, ReadInt(value, argument));
        return Json(axis);
      }
      Json axes = Json::array();
      for (const Json& entry : value) {
        ASSIGN_OR_RETURN(int64_t axis, ReadInt(entry, argument));
        axes.push_back(axis);
      }
      return axes;
    }
    case Param::kLowerString: {
      ASSIGN_OR_RETURN(std::string text, ReadString(value, argument));
      return Json(absl::AsciiStrToLower(text));
    }
  }
  return absl::InternalError("unhandled parameter type");
}

// Refusals the Keras constructors raise for values of the right type.
absl::Status CheckValues(const ClassSpec& spec, Json& config, absl::string_view argument) {
  const absl::string_view name = spec.class_name;
  if (name == "VarianceScaling") {
    if (config["scale"].get<double>() <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          argument, " VarianceScaling scale ", JsonText(config["scale"]), " must be positive"));
    }
    const auto mode = config["mode"].get<std::string>();
    if (mode != "fan_in" && mode != "fan_out" && mode != "fan_avg") {
      return absl::InvalidArgumentError(absl::StrCat(argument, " VarianceScaling mode \"", mode,
                                                     "\" must be fan_in, fan_out or fan_avg"));
    }
    auto distribution = config["distribution"].get<std::string>();
    if (distribution == "normal") config["distribution"] = distribution = "truncated_normal";
    if (distribution != "truncated_normal" && distribution != "untruncated_normal" &&
        distribution != "uniform") {
      return absl::InvalidArgumentError(
          absl::StrCat(argument, " VarianceScaling distribution \"", distribution,
                       "\" must be truncated_normal, untruncated_normal, normal or uniform"));
    }
  }
  if (name == "OrthogonalRegularizer") {
    const auto mode = config["mode"].get<std::string>();
    if (mode != "rows" && mode != "columns") {
      return absl::InvalidArgumentError(absl::StrCat(argument, " OrthogonalRegularizer mode \"",
                                                     mode, "\" must be rows or columns"));
    }
  }
  return absl::OkStatus();
}

// `given` holds the user's arguments; the result has exactly the class's fields.
absl::StatusOr<Json> NormalizeConfig(const ClassSpec& spec, Json given,
                                     absl::string_view argument) {
  if (spec.kind == KerasObjectKind::kInitializer) {
    given.erase("dtype");  // TF 2.x drops it
    // Keras 3.15's variance-scaling initializers choose fan axes for drawing new weights;
    // they never change a served layer's output, so they are accepted and dropped.
    given.erase("input_axes");
    given.erase("output_axes");
  }
  const absl::string_view name = spec.class_name;
  if ((name == "L1" || name == "L2") && given.contains("l")) {  // TF 2.3's legacy `l=`
    if (given.contains(absl::AsciiStrToLower(name))) {
      return absl::InvalidArgumentError(
          absl::StrCat(argument, " ", name, " gives both l and ", absl::AsciiStrToLower(name)));
    }
    given[absl::AsciiStrToLower(name)] = given["l"];
    given.erase("l");
  }
  Json config = Json::object();
  for (const ParamSpec& param : spec.params) {
    auto it = given.find(param.key);
    if (it == given.end()) {
      config[param.key] = param.default_value;
      continue;
    }
    ASSIGN_OR_RETURN(config[param.key],
                     ReadParam(*it, param.type, absl::StrCat(argument, " ", name, " ", param.key)));
    given.erase(it);
  }
  if (!given.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(argument, " ", name, " has no argument \"", given.begin().key(), "\""));
  }
  RETURN_IF_ERROR(CheckValues(spec, config, argument));
  return Json{{"class_name", spec.class_name}, {"config", std::move(config)}};
}

absl::StatusOr<Json> NormalizeDict(const Json& value, KerasObjectKind kind,
                                   absl::string_view argument) {
  Json given = Json::object();
  for (const auto& [key, field] : value.items()) {
    if (key == "class_name") continue;
    if (key == "config") {
      if (!field.is_null() && !field.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(argument, " config must be a JSON object, got ", JsonText(field)));
      }
      if (field.is_object()) given = field;
    } else if (key == "module" || key == "registered_name") {
      if (!field.is_null() && !field.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(argument, " ", key, " must be a string, got ", JsonText(field)));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(argument, " has unknown key \"", key, "\" in ", JsonText(value)));
    }
  }
  auto class_name = value.find("class_name");
  if (class_name == value.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(argument, " ", JsonText(value), " has no class_name"));
  }
  ASSIGN_OR_RETURN(std::string name,
                   ReadString(*class_name, absl::StrCat(argument, " class_name")));
  ASSIGN_OR_RETURN(const ClassSpec* spec, FindClass(name, kind, argument));
  return NormalizeConfig(*spec, std::move(given), argument);
}

}  // namespace

absl::StatusOr<Json> NormalizeKerasObject(const Json& value, KerasObjectKind kind,
                                          absl::string_view argument) {
  if (value.is_null()) {
    if (kind != KerasObjectKind::kInitializer) return Json(nullptr);
    return NormalizeKerasObject(Json("glorot_uniform"), kind, argument);
  }
  if (value.is_string()) {
    const auto name = value.get<std::string>();
    ASSIGN_OR_RETURN(const ClassSpec* spec, FindClass(name, kind, argument));
    Json given = Json::object();
    if (name == "l1_l2") given = {{"l1", 0.01}, {"l2", 0.01}};  // the function's defaults
    return NormalizeConfig(*spec, std::move(given), argument);
  }
  if (value.is_object()) return NormalizeDict(value, kind, argument);
  return absl::InvalidArgumentError(absl::StrCat(
      argument, " must be null, a name or {\"class_name\", \"config\"}, got ", JsonText(value)));
}

absl::StatusOr<Json> ParseKerasObject(const KerasObject& object, KerasObjectKind kind,
                                      absl::string_view argument) {
  RETURN_IF_ERROR(CheckJsonDepth(object.json, argument));
  Json value = Json::parse(object.json, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat(argument, " is not valid JSON: ", object.json.substr(0, 80)));
  }
  return NormalizeKerasObject(value, kind, argument);
}

}  // namespace tconv::internal
