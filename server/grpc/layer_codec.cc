#include "server/grpc/layer_codec.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "tconv/kernel/status_macros.h"

namespace tconv::server {
namespace {

// The only conversions between Abseil's and protobuf's time types on the server side:
// protobuf's TimeUtil to encode, Abseil's saturating arithmetic to decode (a peer's Duration
// may lie beyond int64 nanoseconds, where TimeUtil's would overflow).
google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  return google::protobuf::util::TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}
absl::Duration FromProtoDuration(const google::protobuf::Duration& proto) {
  return absl::Seconds(proto.seconds()) + absl::Nanoseconds(proto.nanos());
}
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "weights are little-endian float32 on the wire; this code copies them as is");

absl::StatusOr<std::vector<float>> DecodeFloats(const std::string& bytes, absl::string_view what) {
  if (bytes.size() % sizeof(float) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has ", bytes.size(), " bytes, not a whole number of float32 values (4 bytes)"));
  }
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

absl::Status DecodeWeights(const tconv::v1::CreateLayerRequest& request, LayerSpec& spec) {
  if (request.kernel().empty()) {
    if (request.kernel_shape_size() > 0 || !request.bias().empty()) {
      return absl::InvalidArgumentError(
          "kernel_shape or bias given without kernel; send all three, or none and "
          "in_channels + seed to draw the weights from the initializers");
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(spec.kernel, DecodeFloats(request.kernel(), "kernel"));
  ASSIGN_OR_RETURN(spec.bias, DecodeFloats(request.bias(), "bias"));
  // kernel_shape against the config and the kernel's size: checked once, by the LayerManager.
  spec.kernel_shape.assign(request.kernel_shape().begin(), request.kernel_shape().end());
  return absl::OkStatus();
}

BatchingOptions DecodeBatching(const tconv::v1::BatchingOptions& wire,
                               const BatchingOptions& defaults) {
  BatchingOptions options = defaults;
  if (wire.max_batch_size() != 0) options.max_batch_size = wire.max_batch_size();
  if (wire.max_queue_size() != 0) options.max_queue_size = wire.max_queue_size();
  if (wire.has_batch_timeout()) {
    options.batch_timeout = FromProtoDuration(wire.batch_timeout());
  }
  return options;
}

void EncodeBatching(const BatchingOptions& options, tconv::v1::BatchingOptions* wire) {
  wire->set_max_batch_size(options.max_batch_size);
  wire->set_max_queue_size(options.max_queue_size);
  *wire->mutable_batch_timeout() = ToProtoDuration(options.batch_timeout);
}

// output = stride * input + offset along each axis: Keras' output length is linear in n.
void EncodeShapeRule(const LayerInfo& info, tconv::v1::ShapeRule* rule) {
  const LayerConfig& config = info.config;
  const bool last = config.data_format == DataFormat::kChannelsLast;
  rule->set_data_format(std::string(DataFormatName(config.data_format)));
  const int64_t in = info.in_channels;
  const int64_t out = config.filters;
  for (int64_t dim : last ? Shape4{-1, -1, -1, in} : Shape4{-1, in, -1, -1}) {
    rule->add_input_shape(dim);
  }
  for (int64_t dim : last ? Shape4{-1, -1, -1, out} : Shape4{-1, out, -1, -1}) {
    rule->add_output_shape(dim);
  }
  std::string formula;
  for (int axis = 0; axis < 2; ++axis) {
    tconv::v1::AxisRule* axis_rule = axis == 0 ? rule->mutable_height() : rule->mutable_width();
    const int64_t stride = config.strides[axis];
    const int64_t offset = config.OutputLength(1, axis) - stride;
    axis_rule->set_stride(stride);
    axis_rule->set_offset(offset);
    const char* n = axis == 0 ? "H" : "W";
    absl::StrAppend(&formula, axis == 0 ? "" : ", ", n, "_out = ", stride, "*", n,
                    offset < 0 ? " - " : " + ", offset < 0 ? -offset : offset);
  }
  rule->set_formula(formula);
}

}  // namespace

absl::StatusOr<LayerSpec> DecodeLayerSpec(const tconv::v1::CreateLayerRequest& request,
                                          const BatchingOptions& defaults) {
  LayerSpec spec;
  spec.name = request.name();
  spec.config_json = request.config_json();
  RETURN_IF_ERROR(DecodeWeights(request, spec));
  spec.in_channels = request.in_channels();
  spec.seed = request.seed();
  if (request.has_batching()) spec.batching = DecodeBatching(request.batching(), defaults);
  spec.replace = request.replace();
  return spec;
}

void EncodeLayer(const LayerInfo& info, tconv::v1::Layer* layer) {
  layer->set_name(info.name);
  layer->set_config_json(info.config.ToJson());
  layer->set_in_channels(info.in_channels);
  for (int64_t dim : info.kernel_shape) layer->add_kernel_shape(dim);
  layer->set_weight_checksum(info.weight_checksum);
  *layer->mutable_created() = ToProtoTimestamp(info.created);
  EncodeBatching(info.batching, layer->mutable_batching());
  EncodeShapeRule(info, layer->mutable_shape_rule());
}

}  // namespace tconv::server
