"""`mlserver start FOLDER`, plus Triton's ModelConfig RPC, which perf_analyzer needs.

  python mlserver_main.py FOLDER

perf_analyzer asks every server for the model's Triton configuration (ModelConfig, an
extension of inference.GRPCInferenceService: it reads max_batch_size and the dims from it) and
gives up when the method is missing, as it is in MLServer. This adds it to MLServer's gRPC
server as one more method handler, answering from the model-settings.json files in FOLDER
(max_batch_size, the inputs and outputs serve.sh wrote). Everything else is MLServer's own.
The messages are encoded by hand (field numbers of Triton's model_config.proto and
grpc_service.proto) so that no second copy of Triton's protos enters MLServer's environment.
"""
import glob
import json
import os
import sys

import grpc
from mlserver.cli import main as mlserver_main
from mlserver.grpc import server as mlserver_grpc

TYPE_FP32 = 11  # inference.DataType


def varint(n):
    n &= (1 << 64) - 1  # int64 -1 is ten bytes, as protobuf writes it
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def field(number, payload):  # length-delimited (wire type 2)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, value):  # wire type 0
    return varint(number << 3) + varint(value)


def tensor(name, dims, dims_field):
    packed = b"".join(varint(d) for d in dims)
    return field(1, name.encode()) + field_varint(2, TYPE_FP32) + field(dims_field, packed)


def model_config_response(settings):
    """ModelConfigResponse{config: ModelConfig} of one model-settings.json (dims without N)."""
    config = (field(1, settings["name"].encode()) + field(17, b"mlserver") +
              field_varint(4, settings.get("max_batch_size", 0)))
    for i in settings["inputs"]:
        config += field(5, tensor(i["name"], i["shape"][1:], 4))  # ModelInput.dims = 4
    for o in settings["outputs"]:
        config += field(6, tensor(o["name"], o["shape"][1:], 3))  # ModelOutput.dims = 3
    return field(1, config)


def request_name(request):
    """ModelConfigRequest.name (field 1) of the serialized request."""
    i = 0
    while i < len(request):
        key, i = decode_varint(request, i)
        if key & 7 == 2:
            length, i = decode_varint(request, i)
            if key >> 3 == 1:
                return request[i:i + length].decode()
            i += length
        elif key & 7 == 0:
            _, i = decode_varint(request, i)
        else:
            break
    return ""


def decode_varint(data, i):
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


class ModelConfigHandler(grpc.GenericRpcHandler):
    def __init__(self, folder):
        self._responses = {}
        for path in glob.glob(os.path.join(folder, "*", "model-settings.json")):
            with open(path) as f:
                settings = json.load(f)
            self._responses[settings["name"]] = model_config_response(settings)

    def service(self, handler_call_details):
        if handler_call_details.method != "/inference.GRPCInferenceService/ModelConfig":
            return None

        async def model_config(request, context):
            name = request_name(request)
            if name not in self._responses:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no model '{name}'")
            return self._responses[name]

        return grpc.unary_unary_rpc_method_handler(model_config)


def main():
    folder = os.path.abspath(sys.argv[1])
    create_server = mlserver_grpc.GRPCServer._create_server

    def create_server_with_model_config(self):
        server = create_server(self)
        server.add_generic_rpc_handlers((ModelConfigHandler(folder),))
        return server

    mlserver_grpc.GRPCServer._create_server = create_server_with_model_config
    sys.argv = ["mlserver", "start", folder]
    return mlserver_main()


if __name__ == "__main__":
    sys.exit(main())
