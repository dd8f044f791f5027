"""tconv_client.Client: one gRPC channel to a tconv server.

Control plane: tconv.v1.LayerService. Inference: the Open Inference Protocol v2
(inference.GRPCInferenceService ModelInfer) with raw little-endian FP32 tensors. Health:
grpc.health.v1. Stubs are generated from tconv's proto/ when the package is built, into
tconv_client.proto (public, for calls this class does not wrap).
"""
import json

import grpc
import numpy as np

from tconv_client.proto.grpc.health.v1 import health_pb2, health_pb2_grpc
from tconv_client.proto.inference import grpc_service_pb2, grpc_service_pb2_grpc
from tconv_client.proto.tconv.v1 import layer_service_pb2, layer_service_pb2_grpc
from tconv_client.errors import TconvError, invalid_argument
from tconv_client.layer import layer_from_proto

# Above gRPC's 4 MiB default (one 256x256x3 batch of 8 is more); the server enforces its own
# limit (--max_message_bytes) and answers RESOURCE_EXHAUSTED above it.
MAX_MESSAGE_BYTES = 1 << 30
INPUT_NAME = "input"
OUTPUT_NAME = "output"
# Input dtypes converted to float32 as Keras does with a float32 layer's input; anything else
# (bool, complex, strings, objects) is refused before sending.
_REAL_KINDS = "fiu"


def _read(path):
    with open(path, "rb") as f:
        return f.read()


class Client:
    """Client("host:port") — or "dns:///name:port" (calls spread round-robin over every
    resolved address), or any gRPC target.

    tls: True for TLS with the system's roots; `ca_file` (PEM) to trust a private CA instead
    (implies TLS); `cert_file` + `key_file` for mutual TLS. token: sent as
    "authorization: Bearer <token>" on every call (the server's --auth_token_file).
    timeout: each call's deadline in seconds (None = none). Thread-safe like its channel; use it
    as a context manager or call close().
    """

    def __init__(self, target, tls=False, token=None, ca_file=None, cert_file=None, key_file=None,
                 timeout=30.0):
        if not target:
            raise invalid_argument("the target is empty; expected host:port")
        if (cert_file is None) != (key_file is None):
            raise invalid_argument("cert_file and key_file go together (mutual TLS)")
        self.target = target
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.lb_policy_name", "round_robin"),
        ]
        if tls or ca_file or cert_file:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(ca_file) if ca_file else None,
                private_key=_read(key_file) if key_file else None,
                certificate_chain=_read(cert_file) if cert_file else None)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._layers = layer_service_pb2_grpc.LayerServiceStub(self._channel)
        self._inference = grpc_service_pb2_grpc.GRPCInferenceServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    @property
    def channel(self):
        """The grpc.Channel, for calls this class does not wrap: the generated stubs are in
        tconv_client.proto (e.g. tconv_client.proto.inference.grpc_service_pb2_grpc)."""
        return self._channel

    @property
    def metadata(self):
        """The metadata sent with every call (the token), for calls on `channel`."""
        return self._metadata

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise TconvError.from_rpc_error(error) from None

    # Control plane -------------------------------------------------------------------------

    def create(self, name, config, kernel, bias=None, replace=False, in_channels=0, seed=0,
               batching=None):
        """Creates the layer `name` (or replaces it, with replace=True) and returns its Layer.

        config: the Keras Conv2DTranspose get_config() dict (or its JSON text). kernel: the
        weights in Keras layout (kh, kw, filters, in_channels), i.e. layer.get_weights()[0];
        bias: (filters,) or None when use_bias is false. kernel=None lets the server draw the
        weights from the config's initializers with `seed`; then `in_channels` is required.
        batching: a tconv_client.Batching, None = the server's defaults.
        """
        try:
            config_json = config if isinstance(config, str) else json.dumps(config)
        except (TypeError, ValueError) as error:
            raise invalid_argument(f"config is not JSON-serialisable: {error}") from None
        request = layer_service_pb2.CreateLayerRequest(
            name=name, config_json=config_json, in_channels=in_channels, seed=seed, replace=replace)
        if kernel is not None:
            kernel = _float32(kernel, "kernel")
            request.kernel = kernel.tobytes()
            request.kernel_shape.extend(kernel.shape)
        if bias is not None:
            request.bias = _float32(bias, "bias").tobytes()
        if batching is not None:
            request.batching.max_batch_size = batching.max_batch_size
            request.batching.batch_timeout.FromTimedelta(batching.batch_timeout)
            request.batching.max_queue_size = batching.max_queue_size
        return layer_from_proto(self._call(self._layers.CreateLayer, request).layer)

    def get(self, name, input_shape=None):
        """The Layer `name` (NOT_FOUND when not served). With input_shape (in the layer's
        data_format), Layer.output_shape is the shape the layer gives for it."""
        request = layer_service_pb2.GetLayerRequest(name=name, input_shape=input_shape or [])
        response = self._call(self._layers.GetLayer, request)
        return layer_from_proto(response.layer, response.output_shape)

    def list(self):
        """Every served Layer, sorted by name."""
        response = self._call(self._layers.ListLayers, layer_service_pb2.ListLayersRequest())
        return [layer_from_proto(layer) for layer in response.layers]

    def delete(self, name):
        """Stops serving `name` and removes it from the model repository (NOT_FOUND if unknown)."""
        self._call(self._layers.DeleteLayer, layer_service_pb2.DeleteLayerRequest(name=name))

    # Inference -----------------------------------------------------------------------------

    def infer(self, name, x):
        """Runs layer `name` on x and returns its output as a float32 ndarray.

        x: a 4-D array in the layer's data_format, batch first ((B, H, W, C) for channels_last,
        (B, C, H, W) for channels_first); integer and float dtypes are converted to float32. A
        shape the layer cannot take (e.g. the wrong channel count) is the server's
        INVALID_ARGUMENT, with a message saying what it expected.
        """
        x = _float32(x, "x")
        if x.ndim != 4:
            raise invalid_argument(
                f"x has shape {x.shape}; expected 4 dimensions, batch first (B, H, W, C) or (B, C, H, W)")
        request = grpc_service_pb2.ModelInferRequest(model_name=name)
        request.inputs.add(name=INPUT_NAME, datatype="FP32", shape=list(x.shape))
        request.raw_input_contents.append(x.tobytes())
        return _output(self._call(self._inference.ModelInfer, request))

    # Health --------------------------------------------------------------------------------

    def health(self, service=""):
        """grpc.health.v1 Check: "SERVING", "NOT_SERVING" (starting or draining), ... for the
        whole server ("") or a service such as "inference.GRPCInferenceService"."""
        request = health_pb2.HealthCheckRequest(service=service)
        response = self._call(self._health.Check, request)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def wait_ready(self, timeout):
        """Waits up to `timeout` seconds for the channel to connect; then whether the server
        says it is ready (OIP ServerReady). UNAVAILABLE/DEADLINE_EXCEEDED as TconvError when
        nothing answers in time."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise TconvError(grpc.StatusCode.DEADLINE_EXCEEDED,
                             f"{self.target}: not connected within {timeout} s") from None
        return self._call(self._inference.ServerReady, grpc_service_pb2.ServerReadyRequest()).ready


def _float32(array, what):
    try:
        array = np.asarray(array)
    except (TypeError, ValueError) as error:  # e.g. a ragged nested list
        raise invalid_argument(f"{what} is not an array: {error}") from None
    if array.dtype.kind not in _REAL_KINDS:
        raise invalid_argument(f"{what} has dtype {array.dtype}; expected real numbers (sent as float32)")
    return np.ascontiguousarray(array, dtype="<f4")


def _output(response):
    """The one FP32 output tensor of a ModelInferResponse, checked before it is trusted."""
    if len(response.outputs) != 1 or len(response.raw_output_contents) != 1:
        raise TconvError(grpc.StatusCode.INTERNAL,
                         f"the answer has {len(response.outputs)} outputs and "
                         f"{len(response.raw_output_contents)} raw contents; expected 1 each")
    output, raw = response.outputs[0], response.raw_output_contents[0]
    if output.datatype != "FP32":
        raise TconvError(grpc.StatusCode.INTERNAL, f"output datatype {output.datatype}; expected FP32")
    shape = tuple(output.shape)
    if len(raw) != 4 * int(np.prod(shape, dtype=np.int64)):
        raise TconvError(grpc.StatusCode.INTERNAL,
                         f"output of {len(raw)} bytes does not hold shape {shape} of FP32")
    # A copy, so the caller gets an ordinary writable array.
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
