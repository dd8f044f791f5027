#!/usr/bin/env python3
"""ONNX Runtime's ConvTranspose as a tconv_bench peer, driven by tconv_bench over pipes.

The package index's onnxruntime wheel ships libonnxruntime.so but not the C API header, so ORT
runs through its Python API, the way a Python user serves it: a graph built with onnx.helper
(NHWC input -> Transpose -> ConvTranspose (weights and bias as initializers) -> Transpose ->
NHWC output, the two transposes being what an NCHW-only operator costs a channels_last caller),
intra_op_num_threads = the thread count (ORT counts the calling thread as one of them),
inter_op_num_threads = 1, sequential execution, every graph optimisation on, and an IoBinding
that binds the caller's input and a preallocated output buffer by address, so a call is
run_with_iobinding alone (no copies in or out). Every ORT time includes one Python call; the
`describe` answer measures that overhead on a one-element Identity graph.

Commands, one per line on stdin; each answer is one line on stdout:
  describe                     -> "ONNX Runtime <version> ... overhead <us> us"
  load <json>                  -> "ok" | "error <why>": builds the session for one workload,
                                  runs it once and writes its answer (NHWC float32) to
                                  json["output"] for tconv_bench's check
  round <warm_ms> <calls> <cpu> -> "<ms> <ms> ...": untimed calls for at least warm_ms (at
                                  least one), then `calls` timed ones (cpu=1: this thread's CPU
                                  time, for --clock=thread_cpu)
  drop                         -> "ok": frees the session
"""
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def session_options(threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def model(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "tconv_bench", inputs, outputs, initializers)
    # Opset 17 / IR 8: what onnxruntime 1.2x accepts from any onnx 1.1x.
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


class Bound:
    """A session with its IoBinding: input and output bound by address, reused every call."""

    def __init__(self, model_bytes, threads, x, y):
        self.x, self.y = x, y  # keep the buffers alive as long as the binding
        self.session = ort.InferenceSession(model_bytes, session_options(threads),
                                            providers=["CPUExecutionProvider"])
        self.binding = self.session.io_binding()
        self.binding.bind_input("X", "cpu", 0, np.float32, list(x.shape), x.ctypes.data)
        self.binding.bind_output("Y", "cpu", 0, np.float32, list(y.shape), y.ctypes.data)

    def run(self):
        self.session.run_with_iobinding(self.binding)


def conv_transpose(spec):
    n, h, w, c = spec["input_shape"]
    f = spec["filters"]
    kh, kw = spec["kernel_size"]
    out_h, out_w = spec["output_hw"]
    # Keras (kh, kw, F, C) -> ONNX's (C, F, kh, kw); neither flips the kernel.
    kernel = np.fromfile(spec["kernel"], dtype=np.float32).reshape(kh, kw, f, c)
    initializers = [helper.make_tensor("W", TensorProto.FLOAT, [c, f, kh, kw],
                                       np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))]
    conv_inputs = ["X_nchw", "W"]
    if spec["bias"]:
        bias = np.fromfile(spec["bias"], dtype=np.float32)
        initializers.append(helper.make_tensor("B", TensorProto.FLOAT, [f], bias))
        conv_inputs.append("B")
    nodes = [
        helper.make_node("Transpose", ["X"], ["X_nchw"], perm=[0, 3, 1, 2]),
        # pads = [top, left, bottom, right] crop the full result, output_padding appends rows:
        # tconv_bench maps Keras' window onto them (as for XNNPACK).
        helper.make_node("ConvTranspose", conv_inputs, ["Y_nchw"],
                         kernel_shape=[kh, kw], strides=spec["strides"],
                         dilations=spec["dilations"], pads=spec["pads"],
                         output_padding=spec["output_padding"]),
        helper.make_node("Transpose", ["Y_nchw"], ["Y"], perm=[0, 2, 3, 1]),
    ]
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [n, h, w, c])]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, out_h, out_w, f])]
    x = np.fromfile(spec["input"], dtype=np.float32).reshape(n, h, w, c)
    y = np.empty((n, out_h, out_w, f), dtype=np.float32)
    return Bound(model(nodes, inputs, outputs, initializers), spec["threads"], x, y)


def call_overhead_us():
    """Median time of one run_with_iobinding of a one-element Identity graph: the Python and
    ORT per-call cost that every ORT time in the table includes."""
    x = np.zeros((1,), dtype=np.float32)
    y = np.empty((1,), dtype=np.float32)
    m = model([helper.make_node("Identity", ["X"], ["Y"])],
              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])], [])
    bound = Bound(m, 1, x, y)
    times = []
    for _ in range(3000):
        start = time.perf_counter_ns()
        bound.run()
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times[500:])) * 1e-3


def main():
    bound = None
    for line in sys.stdin:
        words = line.split(maxsplit=1)
        if not words:
            continue
        command = words[0]
        try:
            if command == "describe":
                answer = (f"ONNX Runtime {ort.__version__} (Python {sys.version.split()[0]}, "
                          f"intra-op threads; one Python run_with_iobinding call of an empty "
                          f"graph: {call_overhead_us():.1f} us, part of every ORT time)")
            elif command == "load":
                bound = None
                spec = json.loads(words[1])
                bound = conv_transpose(spec)
                bound.run()
                bound.y.tofile(spec["output"])
                answer = "ok"
            elif command == "round":
                warm_ms, calls, cpu = words[1].split()
                clock = time.thread_time_ns if cpu == "1" else time.perf_counter_ns
                warm_until = time.perf_counter_ns() + float(warm_ms) * 1e6
                bound.run()
                while time.perf_counter_ns() < warm_until:
                    bound.run()
                times = []
                for _ in range(int(calls)):
                    start = clock()
                    bound.run()
                    times.append((clock() - start) * 1e-6)
                answer = " ".join(f"{t:.6f}" for t in times)
            elif command == "drop":
                bound = None
                answer = "ok"
            else:
                answer = f"error unknown command {command}"
        except Exception as e:  # pylint: disable=broad-except  # reported, the bench goes on
            answer = "error " + " ".join(str(e).split())
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
