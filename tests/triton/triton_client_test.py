"""Triton's tritonclient.grpc, unchanged, against tconv: every answer checked against the golden
conformance cases (Keras outputs), errors checked for their gRPC status.

Layers are created with tritonclient's own load_model (config = Keras JSON, files = kernel/bias
.npy), which tconv maps onto RepositoryModelLoad.
Usage: triton_client_test.py HOST:PORT conv2d_transpose_cases.jsonl
"""
import io
import json
import queue
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def channels_first(config):
    return config.get("data_format", "channels_last").lower() == "channels_first"


def load_case(client, case):
    config = case["config"]
    ks = config["kernel_size"]
    kh, kw = ks if isinstance(ks, list) else [ks, ks]
    in_channels = case["input_shape"][1 if channels_first(config) else 3]
    kernel = np.array(case["kernel"], dtype=np.float32).reshape(kh, kw, config["filters"], in_channels)
    files = {"file:kernel.npy": npy(kernel)}
    if case.get("bias") is not None:
        files["file:bias.npy"] = npy(np.array(case["bias"], dtype=np.float32))
    name = "triton_" + case["name"]
    client.load_model(name, config=json.dumps(config), files=files)
    return name


def check_output(name, got, case):
    want = np.array(case["output"], dtype=np.float64).reshape(case["output_shape"])
    assert got.dtype == np.float32, f"{name}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    err = np.abs(got.astype(np.float64) - want)
    bound = 1e-4 + 1e-4 * np.abs(want)
    assert np.all(np.isfinite(got)) and np.all(err <= bound), f"{name}: max |err| {err.max():.2e}"
    return err.max()


def make_inputs(x, datatype="FP32"):
    tensor = grpcclient.InferInput("input", list(x.shape), datatype)
    tensor.set_data_from_numpy(x)
    return [tensor]


def expect_error(status, call):
    try:
        call()
    except InferenceServerException as e:
        assert e.status() == status, f"expected {status}, got {e.status()}: {e.message()}"
        return e.message()
    raise AssertionError(f"expected {status}, the call succeeded")


def check_case(client, case):
    config = case["config"]
    first = channels_first(config)
    name = load_case(client, case)
    assert client.is_model_ready(name), name

    in_channels = case["input_shape"][1 if first else 3]
    metadata = client.get_model_metadata(name, as_json=True)
    assert metadata["name"] == name and metadata["inputs"][0]["datatype"] == "FP32", metadata
    assert [int(d) for d in metadata["inputs"][0]["shape"]] == (
        [-1, in_channels, -1, -1] if first else [-1, -1, -1, in_channels]), metadata

    model_config = client.get_model_config(name, as_json=True)["config"]
    assert model_config["name"] == name and model_config["backend"] == "tconv", model_config
    # run_test.sh starts the server with --max_batch_size=8 --batch_timeout_us=250.
    assert model_config["max_batch_size"] == 8, model_config
    assert int(model_config["dynamic_batching"]["max_queue_delay_microseconds"]) == 250, model_config
    filters = config["filters"]
    assert model_config["input"][0]["data_type"] == "TYPE_FP32", model_config
    # Triton's batch convention: no batch dimension in dims when max_batch_size > 0.
    assert [int(d) for d in model_config["input"][0]["dims"]] == (
        [in_channels, -1, -1] if first else [-1, -1, in_channels]), model_config
    assert [int(d) for d in model_config["output"][0]["dims"]] == (
        [filters, -1, -1] if first else [-1, -1, filters]), model_config
    assert model_config["instance_group"][0]["kind"] == "KIND_CPU", model_config

    x = np.array(case["input"], dtype=np.float32).reshape(case["input_shape"])
    result = client.infer(name, make_inputs(x), outputs=[grpcclient.InferRequestedOutput("output")],
                          request_id="req-" + case["name"])
    assert result.get_response().id == "req-" + case["name"], result.get_response()
    err = check_output(name, result.as_numpy("output"), case)

    answers = queue.Queue()
    client.async_infer(name, make_inputs(x), lambda result, error: answers.put((result, error)), request_id="async")
    r, e = answers.get(timeout=30)
    assert e is None, e
    assert r.get_response().id == "async"
    check_output(name, r.as_numpy("output"), case)

    # Wrong shape (channels that do not match) and wrong datatype are INVALID_ARGUMENT.
    bad = np.zeros([1, in_channels + 1, 2, 2] if first else [1, 2, 2, in_channels + 1], np.float32)
    expect_error("StatusCode.INVALID_ARGUMENT", lambda: client.infer(name, make_inputs(bad)))
    expect_error("StatusCode.INVALID_ARGUMENT",
                 lambda: client.infer(name, make_inputs(x.astype(np.float64), "FP64")))
    check_statistics(client, name, examples=2 * x.shape[0], ok=2, failed=2)
    print(f"ok  {'channels_first' if first else 'channels_last':14s} {name}: max |err| {err:.2e}")
    return name


def check_statistics(client, name, examples, ok, failed):
    """get_inference_statistics after the infers above: two answered (infer, async_infer), two
    refused (wrong shape, wrong datatype), each run alone (they were sent one after another)."""
    stats = client.get_inference_statistics(name, as_json=True)["model_stats"]
    assert len(stats) == 1 and stats[0]["name"] == name and stats[0]["version"] == "1", stats
    s = stats[0]
    # JSON (MessageToJson) spells uint64 as strings and leaves zeros out.
    count = lambda d, key: int(d.get(key, {}).get("count", 0))
    infer = s["inference_stats"]
    assert int(s["inference_count"]) == examples, s
    assert int(s["execution_count"]) == 2, s
    assert count(infer, "success") == ok and count(infer, "fail") == failed, s
    assert count(infer, "queue") == ok and count(infer, "compute_infer") == ok, s
    assert int(s["last_inference"]) > 0, s
    batches = {int(b["batch_size"]): count(b, "compute_infer") for b in s["batch_stats"]}
    assert batches == {examples // 2: 2}, s


def check_stream(client, cases, count=100):
    """start_stream + async_stream_infer: `count` requests over golden layers on one stream,
    answers matched by id (they may come in any order), plus one bad request whose error arrives
    on the stream while it goes on."""
    names = [load_case(client, case) for case in cases]
    answers = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    expected = {}
    for i in range(count):
        case, name = cases[i % len(cases)], names[i % len(cases)]
        x = np.array(case["input"], dtype=np.float32).reshape(case["input_shape"])
        request_id = f"stream-{i}"
        expected[request_id] = (name, case)
        client.async_stream_infer(name, make_inputs(x), request_id=request_id,
                                  outputs=[grpcclient.InferRequestedOutput("output")])
        if i == count // 2:  # wrong datatype mid-stream
            client.async_stream_infer(names[0], make_inputs(x.astype(np.float64), "FP64"),
                                      request_id="bad")
    errors = []
    got = {}
    for _ in range(count + 1):
        result, error = answers.get(timeout=60)
        if error is not None:
            errors.append(error.message())
            continue
        request_id = result.get_response().id
        assert request_id in expected and request_id not in got, request_id
        name, case = expected[request_id]
        assert result.get_response().model_name == name, result.get_response()
        got[request_id] = check_output(request_id, result.as_numpy("output"), case)
    client.stop_stream()
    assert len(got) == count, f"{len(got)} answers for {count} requests"
    assert len(errors) == 1 and errors[0].startswith("INVALID_ARGUMENT: "), errors
    print(f"ok  stream: {count} answers matched by id over {len(cases)} layers, "
          f"max |err| {max(got.values()):.2e}; 1 refusal on the stream")


def main():
    address, cases_path = sys.argv[1], sys.argv[2]
    cases = [json.loads(line) for line in open(cases_path) if line.strip()]
    client = grpcclient.InferenceServerClient(address)
    assert client.is_server_live() and client.is_server_ready()
    metadata = client.get_server_metadata(as_json=True)
    assert metadata["name"] == "tconv", metadata
    assert set(metadata["extensions"]) == {"model_repository", "model_configuration", "statistics",
                                           "system_shared_memory"}, metadata

    last = next(c for c in cases if not channels_first(c["config"]))
    first = next(c for c in cases if channels_first(c["config"]))
    names = [check_case(client, case) for case in (last, first)]
    check_stream(client, cases[:9] + [first])

    index = {m["name"]: m for m in client.get_model_repository_index(as_json=True).get("models", [])}
    for name in names:
        assert index[name]["state"] == "READY", index

    every = {m["name"] for m in client.get_inference_statistics(as_json=True)["model_stats"]}
    assert set(names) <= every, every
    expect_error("StatusCode.NOT_FOUND", lambda: client.get_inference_statistics("no_such_layer"))

    # A replace (load_model again, other weights) serves the next version; the one before no
    # longer answers. (The stream check above may have reloaded the layer already.)
    before = int(client.get_model_metadata(names[0], as_json=True)["versions"][0])
    replaced = load_case(client, dict(last, kernel=(-np.array(last["kernel"])).tolist()))
    assert replaced == names[0], (replaced, names)
    now = str(before + 1)
    assert client.get_model_metadata(replaced, as_json=True)["versions"] == [now]
    index = {m["name"]: m for m in client.get_model_repository_index(as_json=True)["models"]}
    assert index[replaced]["version"] == now, index
    x_last = np.array(last["input"], dtype=np.float32).reshape(last["input_shape"])
    expect_error("StatusCode.NOT_FOUND",
                 lambda: client.infer(replaced, make_inputs(x_last), model_version=str(before)))
    assert client.infer(replaced, make_inputs(x_last)).get_response().model_version == now

    expect_error("StatusCode.NOT_FOUND", lambda: client.get_model_config("no_such_layer"))
    expect_error("StatusCode.NOT_FOUND", lambda: client.get_model_metadata("no_such_layer"))
    x = np.zeros([1, 2, 2, 1], np.float32)
    expect_error("StatusCode.NOT_FOUND", lambda: client.infer("no_such_layer", make_inputs(x)))
    assert not client.is_model_ready("no_such_layer")
    print("ok  tritonclient: all checks passed")


if __name__ == "__main__":
    main()
