"""Writes tests/conformance/keras3_cases.jsonl: golden and refusal cases computed by the real
Keras 3 (`keras`, from tensorflow-cpu) and Keras 2 (`tf_keras`), with each layer's config
exactly as that version's get_config() writes it (Keras 3: dtype as a DTypePolicy object,
module/registered_name keys, initializer objects). Run by hand, not in CI:

  py=$(scripts/python-env.sh keras tests/keras/requirements.txt)
  $py tests/keras/make_cases.py > tests/conformance/keras3_cases.jsonl
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402  Keras 3
import tf_keras  # noqa: E402  Keras 2

# Every name each version's get_config() can write (keras.activations.get of each public name;
# tf_keras also falls back to tf.nn); the names tconv refuses are written as refusal cases.
KERAS3 = [
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
    "tanh_shrink",
]
KERAS3_REFUSED = ["glu", "threshold"]
KERAS2 = [
    "elu", "exponential", "gelu", "hard_sigmoid", "linear", "mish", "relu", "selu", "sigmoid",
    "softmax", "softplus", "softsign", "swish", "tanh",
    # Not in tf_keras.activations, but resolved through tf.nn and written back by these names.
    "relu6", "leaky_relu", "log_softmax",
]

rng = np.random.default_rng(14)


def rounded(a):
    return [round(float(v), 4) for v in np.asarray(a, dtype=np.float32).ravel()]


def golden(lib, tag, activation, data_format, i):
    layers = lib.layers
    first = data_format == "channels_first"
    # Inputs scaled to reach the activations' interesting ranges (shrink thresholds, relu6's 6).
    shape = (2, 3, 4, 5) if first else (2, 4, 5, 3)
    x = np.array(rounded(rng.uniform(-3, 3, size=shape)), dtype=np.float32).reshape(shape)
    layer = layers.Conv2DTranspose(
        filters=3, kernel_size=(2, 3), strides=(2, 1), padding="same" if i % 2 else "valid",
        data_format=data_format, activation=activation, name=f"{tag}_{activation}")
    layer.build(x.shape)
    kernel = np.array(rounded(rng.uniform(-1, 1, size=layer.kernel.shape)), dtype=np.float32)
    bias = np.array(rounded(rng.uniform(-1, 1, size=(3,))), dtype=np.float32)
    layer.set_weights([kernel.reshape(layer.kernel.shape), bias])
    y = np.asarray(layer(x))
    return {
        "name": f"{tag}_{i:02d}_{activation}_{data_format}",
        "config": layer.get_config(),
        "input_shape": list(x.shape), "input": rounded(x),
        "kernel": rounded(kernel), "bias": rounded(bias),
        "output_shape": list(y.shape), "output": [float(v) for v in y.ravel()],
    }


def main():
    out = sys.stdout
    for i, name in enumerate(KERAS3):
        fmt = "channels_last"  # TF's CPU kernels run channels_first only on GPU
        out.write(json.dumps(golden(keras, "keras3", name, fmt, i)) + "\n")
    for i, name in enumerate(KERAS2):
        fmt = "channels_last"  # TF's CPU kernels run channels_first only on GPU
        out.write(json.dumps(golden(tf_keras, "keras2", name, fmt, i)) + "\n")
    # Keras 3's mixed-precision policy is still the Keras 3 marker.
    layer = keras.layers.Conv2DTranspose(2, 3, activation="hard_sigmoid", dtype="mixed_float16")
    case = golden(keras, "keras3", "hard_sigmoid", "channels_last", 99)
    case["config"]["dtype"] = layer.get_config()["dtype"]
    case["name"] = "keras3_99_hard_sigmoid_mixed_policy"
    out.write(json.dumps(case) + "\n")
    # Names Keras 3 writes that tconv refuses (not an elementwise output, or required arguments).
    for name in KERAS3_REFUSED:
        try:
            config = keras.layers.Conv2DTranspose(2, 3, activation=name).get_config()
        except Exception:  # threshold's required arguments: written by hand as Keras would
            config = keras.layers.Conv2DTranspose(2, 3).get_config()
            config["activation"] = name
        out.write(json.dumps({
            "name": f"keras3_err_{name}", "config": config, "input_shape": [1, 3, 3, 2],
            "expect_error": "construct",
            "reason": f"activation {name} is not an elementwise output (or needs arguments)",
        }) + "\n")


if __name__ == "__main__":
    main()
