"""A small Python client for tconv, through the standard protocols only.

Control plane: tconv.v1.LayerService; inference: the Open Inference Protocol v2
(inference.GRPCInferenceService) with raw little-endian FP32 tensors; health: grpc.health.v1
is left to grpcio-health-checking users. Needs Debian's python3-grpcio, python3-protobuf and
python3-numpy, and stubs generated from tconv's proto/ directory:

    protoc -I proto --python_out=OUT --grpc_python_out=OUT \
        --plugin=protoc-gen-grpc_python=$(which grpc_python_plugin) \
        proto/tconv/v1/layer_service.proto proto/inference/grpc_service.proto

with OUT on sys.path (PYTHONPATH). Errors come back as grpc.RpcError with the server's status
code (e.g. grpc.StatusCode.INVALID_ARGUMENT) and message.
"""
import json

import grpc
import numpy as np

from inference import grpc_service_pb2, grpc_service_pb2_grpc
from tconv.v1 import layer_service_pb2, layer_service_pb2_grpc

# Large enough for big batches; tconv-server's own limit is set by --max_message_bytes.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


class Client:
    """One channel to a tconv server. Thread-safe like the grpc channel it wraps."""

    def __init__(self, target, timeout=30.0):
        self.timeout = timeout
        # round_robin: with a dns:/// target (a Kubernetes headless Service) calls spread over
        # every resolved replica instead of pinning one connection.
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.lb_policy_name", "round_robin"),
        ])
        self.layers = layer_service_pb2_grpc.LayerServiceStub(self.channel)
        self.inference = grpc_service_pb2_grpc.GRPCInferenceServiceStub(self.channel)

    def close(self):
        self.channel.close()

    def wait_ready(self, timeout):
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        return self.inference.ServerReady(grpc_service_pb2.ServerReadyRequest(), timeout=timeout).ready

    def create_layer(self, name, config, kernel=None, bias=None, in_channels=0, seed=0, replace=False):
        """Creates (or replaces) a layer from a Keras config dict; kernel in Keras layout
        (kh, kw, filters, in_channels). Without a kernel the server draws the weights from the
        config's initializers with `seed`. Returns the tconv.v1.Layer."""
        request = layer_service_pb2.CreateLayerRequest(
            name=name, config_json=json.dumps(config), in_channels=in_channels, seed=seed,
            replace=replace)
        if kernel is not None:
            kernel = np.ascontiguousarray(kernel, dtype="<f4")
            request.kernel = kernel.tobytes()
            request.kernel_shape.extend(kernel.shape)
            if bias is not None:
                request.bias = np.ascontiguousarray(bias, dtype="<f4").tobytes()
        return self.layers.CreateLayer(request, timeout=self.timeout).layer

    def get_layer(self, name):
        return self.layers.GetLayer(layer_service_pb2.GetLayerRequest(name=name), timeout=self.timeout).layer

    def delete_layer(self, name):
        self.layers.DeleteLayer(layer_service_pb2.DeleteLayerRequest(name=name), timeout=self.timeout)

    def infer(self, name, x):
        """Runs the layer on x (float32, the layer's data_format, batch first) with raw tensors;
        returns the output as a float32 array of the shape the server reports."""
        x = np.ascontiguousarray(x, dtype="<f4")
        request = grpc_service_pb2.ModelInferRequest(model_name=name)
        request.inputs.add(name="input", datatype="FP32", shape=list(x.shape))
        request.raw_input_contents.append(x.tobytes())
        response = self.inference.ModelInfer(request, timeout=self.timeout)
        output = response.outputs[0]
        if output.datatype != "FP32":
            raise ValueError(f"output datatype {output.datatype}, expected FP32")
        return np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(tuple(output.shape))


def weight_checksum(kernel, bias):
    """FNV-1a 64 over the kernel's then the bias' float32 little-endian bytes, as
    tconv.v1.Layer.weight_checksum defines it."""
    h = 0xcbf29ce484222325
    for array in (kernel, bias):
        if array is None:
            continue
        for byte in np.ascontiguousarray(array, dtype="<f4").tobytes():
            h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
