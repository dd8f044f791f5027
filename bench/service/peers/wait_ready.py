"""Waits until an OIP v2 gRPC server is ready and has every named model ready.

  python wait_ready.py HOST:PORT TIMEOUT_S MODEL...

Needs only grpcio (every peer's environment has it): the two calls are made with hand-encoded
messages (ServerReadyRequest is empty; ModelReadyRequest is field 1, the name), and a response
is ready when it is field 1 = true (bytes 08 01). Exits 0 when ready, 1 on timeout.
"""
import sys
import time

import grpc

SERVICE = "/inference.GRPCInferenceService/"


def model_ready_request(name):
    data = name.encode()
    length, varint = len(data), b""
    while True:
        byte, length = length & 0x7F, length >> 7
        varint += bytes([byte | (0x80 if length else 0)])
        if not length:
            return b"\x0a" + varint + data


def ready(channel, method, request):
    call = channel.unary_unary(SERVICE + method, request_serializer=None,
                               response_deserializer=None)
    try:
        return call(request, timeout=1.0) == b"\x08\x01"
    except grpc.RpcError:
        return False


def main():
    address, timeout, models = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            if ready(channel, "ServerReady", b"") and all(
                    ready(channel, "ModelReady", model_ready_request(m))
                    for m in models):
                return 0
            time.sleep(0.2)
    print(f"wait_ready: {address} not ready with {models} after {timeout:.0f} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
