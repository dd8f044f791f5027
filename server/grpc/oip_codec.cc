#include "server/grpc/oip_codec.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/grpc/shared_memory_codec.h"
#include "tconv/kernel/layer_config.h"
#include "tconv/kernel/status_macros.h"
#include "tconv/npy/npy.h"
#include "tconv/repository/layer_name.h"

namespace tconv::server {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "raw tensor contents are little-endian float32; this code copies them as is");

using inference::InferTensorContents;
using inference::ModelInferRequest;

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// 4 positive dimensions whose product stays within the kernel's tensor limit.
absl::StatusOr<Shape4> DecodeShape(const ModelInferRequest::InferInputTensor& input) {
  if (input.shape_size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", input.name(), "' has shape ", ShapeString(input.shape()),
                     " of rank ", input.shape_size(),
                     "; expected rank 4: [batch, height, width, channels] for "
                     "channels_last or [batch, channels, height, width] for channels_first"));
  }
  Shape4 shape;
  int64_t elements = 1;
  for (int i = 0; i < 4; ++i) {
    shape[i] = input.shape(i);
    if (shape[i] < 1 || shape[i] > LayerLimits::kMaxTensorElements / elements) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name(), "' has shape ", ShapeString(input.shape()),
                       "; expected every dimension >= 1 and at most ",
                       LayerLimits::kMaxTensorElements, " elements in all"));
    }
    elements *= shape[i];
  }
  return shape;
}

// Number of values set in the typed contents fields other than fp32_contents.
int OtherTypedValues(const InferTensorContents& c) {
  return c.bool_contents_size() + c.int_contents_size() + c.int64_contents_size() +
         c.uint_contents_size() + c.uint64_contents_size() + c.fp64_contents_size() +
         c.bytes_contents_size();
}

// Fills decoded->input, or decoded->input_view for raw bytes.
absl::Status DecodeValues(const ModelInferRequest& request, int64_t elements,
                          const SharedMemoryRegistry* shared_memory, InferenceRequest* decoded) {
  const auto& input = request.inputs(0);
  if (UsesSharedMemory(input.parameters())) {
    ASSIGN_OR_RETURN(decoded->input, ReadSharedMemoryInput(request, shared_memory, elements));
    return absl::OkStatus();
  }
  const int typed = input.contents().fp32_contents_size() + OtherTypedValues(input.contents());
  if (request.raw_input_contents_size() > 0) {
    if (request.raw_input_contents_size() != 1 || typed > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected the input either in raw_input_contents (exactly one entry) or in typed "
          "contents, got ",
          request.raw_input_contents_size(), " raw entries and ", typed, " typed values"));
    }
    const std::string& raw = request.raw_input_contents(0);
    const int64_t expected = elements * static_cast<int64_t>(sizeof(float));
    if (static_cast<int64_t>(raw.size()) != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raw_input_contents of input '", input.name(), "' has ", raw.size(), " bytes; shape ",
          ShapeString(input.shape()), " of FP32 needs exactly ", expected));
    }
    // The kernel reads the values where the message holds them (a multi-MB input was zeroed
    // and copied here before); a copy only when the bytes are not aligned for float.
    if (reinterpret_cast<uintptr_t>(raw.data()) % alignof(float) == 0) {
      decoded->input_view = absl::MakeConstSpan(reinterpret_cast<const float*>(raw.data()),
                                                static_cast<size_t>(elements));
      return absl::OkStatus();
    }
    decoded->input.resize(elements);
    std::memcpy(decoded->input.data(), raw.data(), raw.size());
    return absl::OkStatus();
  }
  if (OtherTypedValues(input.contents()) > 0 || input.contents().fp32_contents_size() != elements) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", input.name(), "' has ", input.contents().fp32_contents_size(),
                     " fp32_contents values and ", OtherTypedValues(input.contents()),
                     " values of other types; shape ", ShapeString(input.shape()),
                     " needs exactly ", elements, " fp32_contents values (or raw_input_contents)"));
  }
  decoded->input.assign(input.contents().fp32_contents().begin(),
                        input.contents().fp32_contents().end());
  return absl::OkStatus();
}

absl::Status CheckTensorNames(const ModelInferRequest& request) {
  if (request.inputs_size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", request.model_name(), "' has ", request.inputs_size(),
                     " inputs in the request; expected exactly 1, '", kInputName, "'"));
  }
  const auto& input = request.inputs(0);
  if (input.name() != kInputName) {
    return absl::InvalidArgumentError(absl::StrCat("unknown input '", input.name(),
                                                   "'; the model's input is '", kInputName, "'"));
  }
  if (input.datatype() != kDatatype) {
    return absl::InvalidArgumentError(absl::StrCat("input '", input.name(), "' has datatype '",
                                                   input.datatype(), "'; expected ", kDatatype));
  }
  for (const auto& output : request.outputs()) {
    if (output.name() != kOutputName) {
      return absl::InvalidArgumentError(absl::StrCat("unknown output '", output.name(),
                                                     "' requested; the model's output is '",
                                                     kOutputName, "'"));
    }
  }
  return absl::OkStatus();
}

void SetTensorMetadata(absl::string_view name, const std::array<int64_t, 4>& shape,
                       inference::ModelMetadataResponse::TensorMetadata* tensor) {
  tensor->set_name(std::string(name));
  tensor->set_datatype(std::string(kDatatype));
  for (int64_t dim : shape) tensor->add_shape(dim);
}

// One parameter of a RepositoryModelLoad that carries a layer, applied to `spec`.
absl::Status ApplyLoadParameter(const std::string& key,
                                const inference::ModelRepositoryParameter& value, LayerSpec& spec) {
  using Choice = inference::ModelRepositoryParameter;
  const auto wrong_type = [&key](absl::string_view expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter '", key, "' must be set as ", expected));
  };
  if (key == "config") {
    if (value.parameter_choice_case() != Choice::kStringParam) return wrong_type("string_param");
    spec.config_json = value.string_param();
  } else if (key == "file:kernel.npy" || key == "file:bias.npy") {
    if (value.parameter_choice_case() != Choice::kBytesParam) return wrong_type("bytes_param");
    ASSIGN_OR_RETURN(NpyArray array, ParseNpy(value.bytes_param(), key.substr(5)));
    if (key == "file:kernel.npy") {
      spec.kernel_shape = std::move(array.shape);
      spec.kernel = std::move(array.data);
    } else {
      spec.bias = std::move(array.data);
    }
  } else if (key == "in_channels" || key == "seed") {
    if (value.parameter_choice_case() != Choice::kInt64Param) return wrong_type("int64_param");
    if (key == "seed") {
      spec.seed = static_cast<uint64_t>(value.int64_param());
    } else {
      spec.in_channels = value.int64_param();
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown parameter '", key,
                                                   "'; expected 'config', 'file:kernel.npy', "
                                                   "'file:bias.npy', 'in_channels' or 'seed'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InferenceRequest> DecodeInferRequest(const ModelInferRequest& request,
                                                    const SharedMemoryRegistry* shared_memory) {
  RETURN_IF_ERROR(CheckTensorNames(request));
  InferenceRequest decoded;
  decoded.version = request.model_version();
  ASSIGN_OR_RETURN(decoded.shape, DecodeShape(request.inputs(0)));
  const int64_t elements =
      decoded.shape[0] * decoded.shape[1] * decoded.shape[2] * decoded.shape[3];
  RETURN_IF_ERROR(DecodeValues(request, elements, shared_memory, &decoded));
  return decoded;
}

OutputBuffer RawOutputBuffer(inference::ModelInferResponse* response) {
  return [response](int64_t values) {
    std::string* raw = response->raw_output_contents_size() > 0
                           ? response->mutable_raw_output_contents(0)
                           : response->add_raw_output_contents();
    raw->resize(values * sizeof(float));
    // A heap-allocated std::string buffer is aligned for float (operator new's alignment).
    return absl::MakeSpan(reinterpret_cast<float*>(raw->data()), values);
  };
}

void EncodeInferResponse(const ModelInferRequest& request, const InferenceResult& result,
                         inference::ModelInferResponse* response, bool raw_output) {
  response->set_model_name(request.model_name());
  response->set_model_version(absl::StrCat(result.version));
  response->set_id(request.id());
  auto* output = response->add_outputs();
  output->set_name(std::string(kOutputName));
  output->set_datatype(std::string(kDatatype));
  for (int64_t dim : result.shape) output->add_shape(dim);
  if (!raw_output) {
    // Like Triton: an empty entry keeps raw_output_contents aligned with outputs; Triton's C++
    // client (perf_analyzer) indexes it by output position and crashes without one.
    response->add_raw_output_contents();
    return;
  }
  if (result.output_in_buffer) return;  // RawOutputBuffer put the values in entry 0
  response->add_raw_output_contents()->assign(reinterpret_cast<const char*>(result.output.data()),
                                              result.output.size() * sizeof(float));
}

void EncodeModelMetadata(const LayerInfo& info, inference::ModelMetadataResponse* response) {
  response->set_name(info.name);
  response->add_versions(absl::StrCat(info.version));
  response->set_platform(std::string(kPlatform));
  const int64_t in = info.in_channels;
  const int64_t out = info.config.filters;
  const bool last = info.config.data_format == DataFormat::kChannelsLast;
  using Dims = std::array<int64_t, 4>;
  SetTensorMetadata(kInputName, last ? Dims{-1, -1, -1, in} : Dims{-1, in, -1, -1},
                    response->add_inputs());
  SetTensorMetadata(kOutputName, last ? Dims{-1, -1, -1, out} : Dims{-1, out, -1, -1},
                    response->add_outputs());
}

void EncodeRepositoryIndex(const std::vector<RepositoryEntry>& entries, bool ready_only,
                           inference::RepositoryIndexResponse* response) {
  for (const RepositoryEntry& entry : entries) {
    const bool ready = entry.state == RepositoryEntry::State::kReady;
    if (ready_only && !ready) continue;
    auto* model = response->add_models();
    model->set_name(entry.name);
    if (entry.version > 0) model->set_version(absl::StrCat(entry.version));
    model->set_state(ready ? "READY" : "UNAVAILABLE");
    model->set_reason(entry.reason);
  }
}

absl::StatusOr<LayerSpec> DecodeRepositoryLoad(
    const inference::RepositoryModelLoadRequest& request) {
  LayerSpec spec;
  spec.name = request.model_name();
  spec.replace = true;
  for (const auto& [key, value] : request.parameters()) {
    RETURN_IF_ERROR(ApplyLoadParameter(key, value, spec));
  }
  if (spec.config_json.empty()) {
    return absl::InvalidArgumentError(
        "RepositoryModelLoad with parameters needs a 'config' string parameter (Keras JSON)");
  }
  return spec;
}

}  // namespace tconv::server
