"""Triton Inference Server (through PyTriton) serving tconv layer folders with tf.keras.

  python pytriton_serve.py REPOSITORY_DIR GRPC_PORT LAYER...

serve.sh runs it. Every layer is bound as a Triton model of the same name with tconv's tensors
(input "input" FP32 [-1, -1, C], output "output" FP32 [-1, -1, filters], batch dimension
left out) and Triton's dynamic batcher up to the folder's max_batch_size (32 by default) with no
queue delay, as tconv batches what is queued. tritonserver listens on 127.0.0.1 only: gRPC on
GRPC_PORT, HTTP on GRPC_PORT+1, metrics off. Runs until SIGTERM/SIGINT.
"""
import logging
import os
import signal
import sys

import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import DEFAULT_PROTECTED_ENDPOINTS, Triton, TritonConfig, TritonSecurityConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_layer import Layer  # noqa: E402


def infer_function(layer):
    @batch
    def infer(input):  # noqa: A002 - the tensor's name is the keyword
        return {"output": layer(input)}

    return infer


def main():
    repository, port, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    logging.basicConfig(level=logging.WARNING)
    layers = {name: Layer(os.path.join(repository, name)) for name in names}
    config = TritonConfig(
        grpc_address="127.0.0.1", grpc_port=port,
        http_address="127.0.0.1", http_port=port + 1,
        metrics_port=port + 2, allow_metrics=False, allow_cpu_metrics=False,
        allow_gpu_metrics=False, log_verbose=0)
    # PyTriton guards the statistics endpoint with a token by default; perf_analyzer reads the
    # server's statistics every window (as it does tconv's), so that one is left open. The
    # others stay guarded; all of it listens on loopback only.
    security = TritonSecurityConfig(restricted_endpoints=[
        e for e in DEFAULT_PROTECTED_ENDPOINTS if e != "statistics"])
    triton = Triton(config=config, security_config=security)
    # SIGTERM ends serve() the way Ctrl-C does, so that tritonserver is stopped with us.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for name, layer in layers.items():
            triton.bind(
                model_name=name,
                infer_func=infer_function(layer),
                inputs=[Tensor(name="input", dtype=np.float32, shape=(-1, -1, layer.in_channels))],
                outputs=[Tensor(name="output", dtype=np.float32, shape=(-1, -1, layer.filters))],
                config=ModelConfig(max_batch_size=layer.max_batch_size,
                                   batcher=DynamicBatcher(max_queue_delay_microseconds=0)),
                strict=True)
        triton.serve()
    except KeyboardInterrupt:
        pass
    finally:
        triton.stop()


if __name__ == "__main__":
    main()
