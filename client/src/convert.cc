#include "convert.h"

#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

// Raw tensor contents are little-endian float32 on the wire; memcpy is that only on
// little-endian hosts, which is every platform tconv builds for.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "raw FP32 needs a little-endian host");

namespace tconv::client::internal {
namespace {

constexpr int64_t kMaxMessageFloats = std::numeric_limits<int32_t>::max() / sizeof(float);

std::string FloatBytes(absl::Span<const float> values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// The only conversions between Abseil's and protobuf's time types on the client side:
// protobuf's TimeUtil to encode, Abseil's saturating arithmetic to decode (a server's value
// may lie beyond int64 nanoseconds, where TimeUtil's would overflow).
google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  return google::protobuf::util::TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}
absl::Duration FromProtoDuration(const google::protobuf::Duration& proto) {
  return absl::Seconds(proto.seconds()) + absl::Nanoseconds(proto.nanos());
}
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& proto) {
  return absl::FromUnixSeconds(proto.seconds()) + absl::Nanoseconds(proto.nanos());
}

Batching FromProtoBatching(const tconv::v1::BatchingOptions& proto) {
  Batching batching;
  batching.max_batch_size = proto.max_batch_size();
  batching.batch_timeout = FromProtoDuration(proto.batch_timeout());
  batching.max_queue_size = proto.max_queue_size();
  return batching;
}

ShapeRule FromProtoShapeRule(const tconv::v1::ShapeRule& proto) {
  ShapeRule rule;
  rule.data_format = proto.data_format();
  rule.input_shape.assign(proto.input_shape().begin(), proto.input_shape().end());
  rule.output_shape.assign(proto.output_shape().begin(), proto.output_shape().end());
  rule.height = {proto.height().stride(), proto.height().offset()};
  rule.width = {proto.width().stride(), proto.width().offset()};
  rule.formula = proto.formula();
  return rule;
}

// Elements of `shape`, or -1 when a dimension is negative or the count exceeds `limit`.
int64_t ElementCount(absl::Span<const int64_t> shape, int64_t limit) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return -1;
    if (dim != 0 && count > limit / dim) return -1;
    count *= dim;
  }
  return count;
}

}  // namespace

absl::StatusOr<tconv::v1::CreateLayerRequest> ToCreateLayerRequest(const LayerSpec& spec) {
  if (static_cast<int64_t>(spec.kernel.size()) > kMaxMessageFloats ||
      static_cast<int64_t>(spec.bias.size()) > kMaxMessageFloats) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer '", spec.name, "': kernel (", spec.kernel.size(), " floats) or bias (",
                     spec.bias.size(), " floats) exceeds the 2 GiB a gRPC message can carry"));
  }
  tconv::v1::CreateLayerRequest request;
  request.set_name(spec.name);
  request.set_config_json(spec.config_json);
  request.set_kernel(FloatBytes(spec.kernel));
  request.mutable_kernel_shape()->Add(spec.kernel_shape.begin(), spec.kernel_shape.end());
  request.set_bias(FloatBytes(spec.bias));
  request.set_in_channels(spec.in_channels);
  request.set_seed(spec.seed);
  if (spec.batching) {
    tconv::v1::BatchingOptions* batching = request.mutable_batching();
    batching->set_max_batch_size(spec.batching->max_batch_size);
    *batching->mutable_batch_timeout() = ToProtoDuration(spec.batching->batch_timeout);
    batching->set_max_queue_size(spec.batching->max_queue_size);
  }
  request.set_replace(spec.replace);
  return request;
}

LayerInfo FromLayer(const tconv::v1::Layer& layer) {
  LayerInfo info;
  info.name = layer.name();
  info.config_json = layer.config_json();
  info.in_channels = layer.in_channels();
  info.kernel_shape.assign(layer.kernel_shape().begin(), layer.kernel_shape().end());
  info.weight_checksum = layer.weight_checksum();
  info.created = FromProtoTimestamp(layer.created());
  info.batching = FromProtoBatching(layer.batching());
  info.shape_rule = FromProtoShapeRule(layer.shape_rule());
  return info;
}

absl::StatusOr<inference::ModelInferRequest> ToInferRequest(std::string_view layer,
                                                            absl::Span<const float> input,
                                                            absl::Span<const int64_t> shape) {
  const int64_t elements = ElementCount(shape, kMaxMessageFloats);
  if (elements != static_cast<int64_t>(input.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input shape [", absl::StrJoin(shape, ", "), "] does not describe the ", input.size(),
        " input values given (or exceeds the 2 GiB a gRPC message can carry)"));
  }
  inference::ModelInferRequest request;
  request.set_model_name(std::string(layer));
  inference::ModelInferRequest::InferInputTensor* tensor = request.add_inputs();
  tensor->set_name("input");
  tensor->set_datatype("FP32");
  tensor->mutable_shape()->Add(shape.begin(), shape.end());
  request.add_raw_input_contents(FloatBytes(input));
  return request;
}

absl::StatusOr<Tensor> FromInferResponse(const inference::ModelInferResponse& response) {
  if (response.outputs_size() != 1) {
    return absl::InternalError(
        absl::StrCat("the server answered ", response.outputs_size(), " outputs, expected 1"));
  }
  const auto& output = response.outputs(0);
  if (output.datatype() != "FP32") {
    return absl::InternalError(
        absl::StrCat("the server answered datatype '", output.datatype(), "', expected FP32"));
  }
  Tensor tensor;
  tensor.shape.assign(output.shape().begin(), output.shape().end());
  const int64_t elements = ElementCount(tensor.shape, kMaxMessageFloats);
  if (response.raw_output_contents_size() > 0) {
    const std::string& raw = response.raw_output_contents(0);
    if (elements < 0 || static_cast<int64_t>(raw.size()) != elements * 4) {
      return absl::InternalError(absl::StrCat("the server answered ", raw.size(),
                                              " raw bytes for output shape [",
                                              absl::StrJoin(tensor.shape, ", "), "]"));
    }
    tensor.values.resize(elements);
    std::memcpy(tensor.values.data(), raw.data(), raw.size());
    return tensor;
  }
  const auto& typed = output.contents().fp32_contents();
  if (elements < 0 || typed.size() != elements) {
    return absl::InternalError(absl::StrCat("the server answered ", typed.size(),
                                            " FP32 values for output shape [",
                                            absl::StrJoin(tensor.shape, ", "), "]"));
  }
  tensor.values.assign(typed.begin(), typed.end());
  return tensor;
}

}  // namespace tconv::client::internal
