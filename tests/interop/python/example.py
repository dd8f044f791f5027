"""Calls a running tconv server from Python with tconv-client (client/python) and checks it
against golden Keras results.

Usage: python example.py HOST:PORT conv2d_transpose_cases.jsonl
For a few golden cases (channels_last and channels_first, with and without bias): creates the
layer with the case's weights, runs it on the case's input, and checks every output element
within the conformance tolerance |got - want| <= 1e-4 + 1e-4 * |want|. Also checks the weight
checksum the server reports, an exact INVALID_ARGUMENT for a tensor whose bytes do not match its
shape (sent through the package's generated OIP stubs, as a user with a custom request would),
and NOT_FOUND after deleting the layer.
"""
import json
import sys

import grpc
import numpy as np

import tconv_client
from tconv_client.proto.inference import grpc_service_pb2, grpc_service_pb2_grpc


def pick_cases(path):
    """The first case of each kind: channels_last with bias, channels_first, no bias."""
    wanted = {
        "channels_last+bias": lambda c: c["config"].get("data_format", "").lower() == "channels_last"
        and c["config"].get("use_bias", True),
        "channels_first": lambda c: c["config"].get("data_format", "").lower() == "channels_first",
        "no bias": lambda c: c["config"].get("use_bias", True) is False,
    }
    picked = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            for kind, matches in wanted.items():
                if kind not in picked and matches(case):
                    picked[kind] = case
    missing = set(wanted) - set(picked)
    if missing:
        raise SystemExit(f"{path}: no golden case for {sorted(missing)}")
    return picked


def expect_code(code, call):
    try:
        call()
    except tconv_client.TconvError as e:
        if e.code != code:
            raise AssertionError(f"expected {code}, got {e}") from e
        return e.message
    except grpc.RpcError as e:  # a call on the raw stubs
        if e.code() != code:
            raise AssertionError(f"expected {code}, got {e.code()}: {e.details()}") from e
        return e.details()
    raise AssertionError(f"expected {code}, the call succeeded")


def run_case(client, kind, case):
    config = case["config"]
    filters = config["filters"]
    kh, kw = (config["kernel_size"] if isinstance(config["kernel_size"], list) else [config["kernel_size"]] * 2)
    x = np.array(case["input"], dtype=np.float32).reshape(case["input_shape"])
    in_channels = case["input_shape"][1 if config.get("data_format", "channels_last").lower() == "channels_first" else 3]
    kernel = np.array(case["kernel"], dtype=np.float32).reshape(kh, kw, filters, in_channels)
    bias = None if case.get("bias") is None else np.array(case["bias"], dtype=np.float32)
    name = "py_" + case["name"]

    layer = client.create(name, config, kernel, bias, replace=True)
    assert layer.weight_checksum == tconv_client.weight_checksum(kernel, bias), \
        f"{name}: weight checksum {layer.weight_checksum:#x} != {tconv_client.weight_checksum(kernel, bias):#x}"
    assert client.get(name).kernel_shape == kernel.shape

    got = client.infer(name, x)
    want = np.array(case["output"], dtype=np.float32).reshape(case["output_shape"])
    assert got.shape == want.shape, f"{name}: output shape {got.shape}, expected {want.shape}"
    err = np.abs(got.astype(np.float64) - want)
    bound = 1e-4 + 1e-4 * np.abs(want.astype(np.float64))
    worst = int(np.argmax(err - bound))
    assert np.all(np.isfinite(got)) and np.all(err <= bound), \
        f"{name}: element {worst} got {got.flat[worst]} want {want.flat[worst]}"
    print(f"ok  {kind:20s} {name}: {got.size} elements, max |err| {err.max():.2e}")

    # A tensor whose byte size does not match its shape is refused precisely.
    inference = grpc_service_pb2_grpc.GRPCInferenceServiceStub(client.channel)
    message = expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: inference.ModelInfer(
        bad_size_request(name, x), timeout=30, metadata=client.metadata))
    print(f"ok  wrong byte size -> INVALID_ARGUMENT ({message})")
    client.delete(name)
    expect_code(grpc.StatusCode.NOT_FOUND, lambda: client.infer(name, x))


def bad_size_request(name, x):
    request = grpc_service_pb2.ModelInferRequest(model_name=name)
    request.inputs.add(name="input", datatype="FP32", shape=list(x.shape))
    request.raw_input_contents.append(np.ascontiguousarray(x, dtype="<f4").tobytes()[:-4])
    return request


def main():
    target, cases_path = sys.argv[1], sys.argv[2]
    with tconv_client.Client(target) as client:
        if not client.wait_ready(timeout=30):
            raise SystemExit(f"{target}: server is not ready")
        for kind, case in pick_cases(cases_path).items():
            run_case(client, kind, case)
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
