"""An MLServer runtime serving one tconv layer folder through tf.keras' Conv2DTranspose.

model-settings.json (serve.sh writes it) names this class as the implementation and the layer
folder as parameters.uri. The OIP tensors are tconv's: input "input" FP32 [N, H, W, C],
output "output" FP32 [N, OH, OW, filters]; MLServer's adaptive batching concatenates requests
along N before predict().
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

from keras_layer import Layer


class KerasConv2DTranspose(MLModel):
    async def load(self) -> bool:
        self._layer = Layer(self.settings.parameters.uri)
        # TensorFlow runs on one thread of its own, off the event loop (it lets go of the GIL
        # inside the op), so gRPC keeps taking requests into the batcher during a batch; one
        # thread, so batches never run side by side on the two cores TensorFlow already uses.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tf")
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        inputs = {i.name: i for i in payload.inputs}
        if "input" not in inputs:
            raise ValueError(f"expected an input tensor named 'input', got {sorted(inputs)}")
        x = NumpyCodec.decode_input(inputs["input"]).astype(np.float32, copy=False)
        if x.ndim != 4 or x.shape[3] != self._layer.in_channels:
            raise ValueError(f"input must be [N, H, W, {self._layer.in_channels}], got "
                             f"{list(x.shape)}")
        y = await asyncio.get_running_loop().run_in_executor(self._executor, self._layer, x)
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            # Built here rather than by NumpyCodec.encode_output, which turns NaN into None (for
            # JSON) and so breaks MLServer's own raw gRPC reply: perf_analyzer's random FP32
            # inputs are random bits, some NaN, and so are some outputs.
            outputs=[ResponseOutput(name="output", datatype="FP32", shape=list(y.shape),
                                    data=y.ravel().tolist())],
        )
