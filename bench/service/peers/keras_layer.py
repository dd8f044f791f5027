"""Builds a tconv layer folder (repository/README.md) as a TensorFlow Keras Conv2DTranspose.

Shared by the peers of the service benchmark (mlserver_runtime.py, pytriton_serve.py): both run
the layer through tf.keras with the weights tconv wrote, so every server computes the same
function from the same numbers.
"""
import json
import os

import numpy as np

# The benchmark gives every server two threads (tconv-server's default --threads=2 on this
# machine): TensorFlow gets two intra-op threads (the convolution itself) and one inter-op thread
# (a single op per call, nothing to overlap). PEER_THREADS changes it.
THREADS = int(os.environ.get("PEER_THREADS", "2"))
DEFAULT_MAX_BATCH_SIZE = 32


def configure_tensorflow():
    """Sets TensorFlow's thread pools; must run before the first op."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def read_folder(folder):
    """(keras_config, in_channels, max_batch_size, kernel, bias or None) of one layer folder."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    max_batch_size = DEFAULT_MAX_BATCH_SIZE
    if "tconv_format" in config:  # as tconv writes it
        keras_config = config["keras"]
        max_batch_size = config.get("batching", {}).get("max_batch_size", max_batch_size)
    elif "class_name" in config:  # tf.keras.layers.serialize form
        keras_config = config["config"]
    else:  # a bare get_config()
        keras_config = config
    kernel = np.load(os.path.join(folder, "kernel.npy")).astype(np.float32, copy=False)
    bias_path = os.path.join(folder, "bias.npy")
    bias = np.load(bias_path).astype(np.float32, copy=False) if os.path.exists(bias_path) else None
    in_channels = int(config.get("in_channels", kernel.shape[3]) if "tconv_format" in config
                      else kernel.shape[3])
    if kernel.shape[3] != in_channels:
        raise ValueError(f"{folder}: kernel.npy has {kernel.shape[3]} input channels, "
                         f"config.json says {in_channels}")
    return keras_config, in_channels, max_batch_size, kernel, bias


class Layer:
    """One folder's layer, built and holding its weights; call(x) runs a [N, H, W, C] batch."""

    def __init__(self, folder):
        tf = configure_tensorflow()
        keras_config, self.in_channels, self.max_batch_size, kernel, bias = read_folder(folder)
        self.filters = int(keras_config["filters"])
        keras_config = dict(keras_config)
        # tconv stores Keras 2's form; Keras 3 has no grouped transposed convolution and
        # refuses the key, which only ever holds 1 there.
        if keras_config.pop("groups", 1) != 1:
            raise ValueError(f"{folder}: groups != 1 is not a Keras Conv2DTranspose")
        self.layer = tf.keras.layers.Conv2DTranspose.from_config(keras_config)
        if self.layer.data_format != "channels_last":
            raise ValueError(f"{folder}: only channels_last layers are served (as tconv does)")
        self.layer.build((None, None, None, self.in_channels))
        self.layer.set_weights([kernel] + ([bias] if bias is not None else []))
        self._tf = tf
        # One traced graph for every batch and image size, so that a call is one graph
        # execution, not eager op dispatch (the fairest TensorFlow there is short of XLA).
        self._call = tf.function(
            self.layer.call, reduce_retracing=True,
            input_signature=[tf.TensorSpec([None, None, None, self.in_channels], tf.float32)])
        self(np.zeros((1, 4, 4, self.in_channels), np.float32))  # trace before serving

    def __call__(self, x):
        return self._call(self._tf.convert_to_tensor(x, self._tf.float32)).numpy()
