// Reading Keras' JSON: typed field readers whose errors name the argument and the value
// (defined in layer_config_readers.cc), and the normalisation of initializers, regularizers
// and constraints (spec §6–§8) to {"class_name": CamelCase, "config": {every Keras default
// filled in}}. Internal to the kernel.
#ifndef TCONV_KERNEL_SRC_KERAS_OBJECTS_H_
#define TCONV_KERNEL_SRC_KERAS_OBJECTS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "tconv/kernel/layer_config.h"

namespace tconv::internal {

using Json = nlohmann::json;

// Refuses JSON text nested deeper than a Keras config ever is (64 levels) before it is parsed,
// with INVALID_ARGUMENT naming `what`:
// nlohmann's dump() and copies recurse, so a hostile document could overflow the stack.
absl::Status CheckJsonDepth(absl::string_view text, absl::string_view what);

// The value as compact JSON, shortened for messages (a config may hold a huge list).
std::string JsonText(const Json& value);

// Each reader refuses a wrong JSON type or value with INVALID_ARGUMENT naming `argument`.
// Integers: JSON integers, or floats with an integral value (Keras applies int()); never bool.
absl::StatusOr<int64_t> ReadInt(const Json& value, absl::string_view argument);
// An int `k` (meaning (k, k)) or a list of exactly two ints, as Keras' normalize_tuple.
absl::StatusOr<Pair> ReadIntOrPair(const Json& value, absl::string_view argument);
// A finite number.
absl::StatusOr<double> ReadNumber(const Json& value, absl::string_view argument);
absl::StatusOr<std::string> ReadString(const Json& value, absl::string_view argument);
absl::StatusOr<bool> ReadBool(const Json& value, absl::string_view argument);

enum class KerasObjectKind { kInitializer, kRegularizer, kConstraint };

// Normalises one initializer / regularizer / constraint given the way Keras accepts it: a name
// ("glorot_uniform", "l2", "max_norm"), a class name ("GlorotUniform"), or {"class_name",
// "config"} (Keras 3 also adds "module" and "registered_name"). JSON null stays null, except
// for initializers, where Keras' add_weight falls back to glorot_uniform. Unknown names and
// arguments, wrong types and values Keras refuses are INVALID_ARGUMENT naming `argument`.
absl::StatusOr<Json> NormalizeKerasObject(const Json& value, KerasObjectKind kind,
                                          absl::string_view argument);

// Parses a stored KerasObject and normalises it again (LayerConfig can be built in code).
absl::StatusOr<Json> ParseKerasObject(const KerasObject& object, KerasObjectKind kind,
                                      absl::string_view argument);

}  // namespace tconv::internal

#endif  // TCONV_KERNEL_SRC_KERAS_OBJECTS_H_
