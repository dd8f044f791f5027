"""Triton's system shared memory extension with tritonclient's own tritonclient.utils.shared_memory
against a real tconv-server on loopback: a channels_last golden case with its input and output in
POSIX regions (checked against Keras's answer), region status, and the refusals' gRPC codes.
Usage: shared_memory_test.py HOST:PORT conv2d_transpose_cases.jsonl
"""
import json
import os
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.utils.shared_memory as shm

from triton_client_test import channels_first, check_output, expect_error, load_case


def main():
    address, cases_path = sys.argv[1], sys.argv[2]
    with open(cases_path) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    case = next(c for c in cases if not channels_first(c["config"]))
    client = grpcclient.InferenceServerClient(address)
    assert "system_shared_memory" in client.get_server_metadata(as_json=True)["extensions"]
    name = load_case(client, case)
    x = np.array(case["input"], dtype=np.float32).reshape(case["input_shape"])
    out_shape = case["output_shape"]
    out_bytes = int(np.prod(out_shape)) * 4
    pid = os.getpid()
    in_key, out_key = f"/tconv_py_in_{pid}", f"/tconv_py_out_{pid}"
    in_handle = shm.create_shared_memory_region("in", in_key, x.nbytes)
    out_handle = shm.create_shared_memory_region("out", out_key, out_bytes)
    try:
        client.unregister_system_shared_memory()
        shm.set_shared_memory_region(in_handle, [x])
        client.register_system_shared_memory("in", in_key, x.nbytes)
        client.register_system_shared_memory("out", out_key, out_bytes)
        status = client.get_system_shared_memory_status(as_json=True)
        regions = status["regions"]
        assert set(regions) == {"in", "out"}, status
        assert regions["in"]["key"] == in_key and int(regions["in"]["byte_size"]) == x.nbytes, status

        inputs = [grpcclient.InferInput("input", list(x.shape), "FP32")]
        inputs[0].set_shared_memory("in", x.nbytes)
        outputs = [grpcclient.InferRequestedOutput("output")]
        outputs[0].set_shared_memory("out", out_bytes)
        result = client.infer(name, inputs, outputs=outputs)
        output = result.get_output("output")
        assert list(output.shape) == list(out_shape), output
        raw = result.get_response().raw_output_contents
        assert list(raw) == [b""], "the output travelled in the response"  # Triton's empty entry
        got = shm.get_contents_as_numpy(out_handle, np.float32, out_shape)
        err = check_output(name, got, case)
        # Input in shared memory, output in the response.
        plain = client.infer(name, inputs)
        check_output(name, plain.as_numpy("output"), case)
        print(f"ok  shared memory {name}: input and output in place, max |err| {err:.1e}")

        expect_error("StatusCode.ALREADY_EXISTS",
                     lambda: client.register_system_shared_memory("in", in_key, x.nbytes))
        expect_error("StatusCode.NOT_FOUND",
                     lambda: client.register_system_shared_memory("x", f"/tconv_py_none_{pid}", 8))
        expect_error("StatusCode.INVALID_ARGUMENT",
                     lambda: client.register_system_shared_memory("x", in_key, 0))
        expect_error("StatusCode.INVALID_ARGUMENT",
                     lambda: client.register_system_shared_memory("x", in_key, x.nbytes + 4096))
        small = [grpcclient.InferInput("input", list(x.shape), "FP32")]
        small[0].set_shared_memory("in", x.nbytes - 4)
        message = expect_error("StatusCode.INVALID_ARGUMENT", lambda: client.infer(name, small))
        assert "shared_memory_byte_size" in message, message
        offset = [grpcclient.InferInput("input", list(x.shape), "FP32")]
        offset[0].set_shared_memory("in", x.nbytes, offset=4)
        message = expect_error("StatusCode.INVALID_ARGUMENT", lambda: client.infer(name, offset))
        assert "outside region 'in'" in message, message
        expect_error("StatusCode.UNIMPLEMENTED", lambda: client.get_cuda_shared_memory_status())
        client.unregister_system_shared_memory("in")
        message = expect_error("StatusCode.NOT_FOUND", lambda: client.infer(name, inputs))
        assert "'in' is not registered" in message, message
        client.unregister_system_shared_memory()
        assert not client.get_system_shared_memory_status(as_json=True).get("regions"), "left over"
        print("ok  shared memory refusals: ALREADY_EXISTS, NOT_FOUND, INVALID_ARGUMENT, UNIMPLEMENTED")
    finally:
        shm.destroy_shared_memory_region(in_handle)
        shm.destroy_shared_memory_region(out_handle)


if __name__ == "__main__":
    main()
