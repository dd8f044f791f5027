"""tconv-client: the Python client of a tconv server (Keras Conv2DTranspose over gRPC).

    import numpy as np, tconv_client
    client = tconv_client.Client("127.0.0.1:8001")
    client.create("gen1", layer.get_config(), kernel, bias)   # Keras layout weights
    y = client.infer("gen1", x)                                # float32 NumPy in and out

Every failure is a TconvError carrying the gRPC status code (`error.code`).
"""
from tconv_client.client import Client
from tconv_client.errors import TconvError
from tconv_client.layer import AxisRule, Batching, Layer, ShapeRule, weight_checksum

__all__ = ["AxisRule", "Batching", "Client", "Layer", "ShapeRule", "TconvError", "weight_checksum"]
