"""Differential conformance against the real Keras: draws random Conv2DTranspose
configurations with a fixed seed, builds each one in Keras 3 (`keras`, from tensorflow-cpu)
and in Keras 2 (`tf_keras`), runs `layer(x)` and writes what Keras answered (an output, or a
refusal at construction or at call) as conformance cases. tconv then runs every case with
both of its implementations and through a running tconv-server (`tconv conformance`), and
any disagreement fails the run with the config, the input shape and the first differing
element.

  py=$(scripts/python-env.sh keras tests/keras/requirements.txt)
  $py tests/keras/differential.py --tconv build/test/client/tool/tconv \
      [--server 127.0.0.1:PORT] [--cases 300] [--seed 14] [--workdir DIR]

Every argument is drawn: filters; kernel_size, strides and dilation_rate as int or pair;
padding in any letter case; output_padding None, int or pair (values Keras refuses too);
both data_formats; every activation the version has; use_bias; initializers by name and as
objects. Batch 1-4, spatial sizes 1-12.

TF's CPU kernels compute channels_first transposed convolutions, and Keras 3's dilated ones,
only on GPU, so those layers are computed as Keras would on a GPU: their convolution and bias
by a channels_last twin with the same weights (transposed in and out; for dilation, the kernel
with zeros between its taps), then the layer's own activation on its own layout (softmax's
axis -1 is then the width, as in Keras). Every refusal comes from the real layer.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402  Keras 3
import tf_keras  # noqa: E402  Keras 2

# Every activation name each version's get_config() can write (see make_cases.py), but
# threshold, which needs arguments a name cannot give. Keras 3's glu is drawn although tconv
# refuses it (see UNSUPPORTED).
ACTIVATIONS = {
    "keras3": [
        "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
        "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax",
        "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax",
        "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
        "swish", "tanh", "tanh_shrink", None,
    ],
    "keras2": [
        "elu", "exponential", "gelu", "hard_sigmoid", "linear", "mish", "relu", "selu",
        "sigmoid", "softmax", "softplus", "softsign", "swish", "tanh", "relu6", "leaky_relu",
        "log_softmax", None,
    ],
}
NOT_DRAWN = {"keras3": [], "keras2": []}
# Activations Keras computes and tconv refuses, on purpose: Keras 3's glu splits the last axis
# of the layer's output in two halves a, b and returns a * sigmoid(b), so the output has
# filters / 2 channels (channels_last) or half the width (channels_first) and odd sizes are
# refused at call. tconv's output is the layer's shape, so it refuses glu at construction with
# INVALID_ARGUMENT naming the activation. Such a case expects exactly that refusal whatever
# Keras did; the run counts them and what Keras said, so the gap is printed, not hidden.
UNSUPPORTED = {"glu"}
INITIALIZER_NAMES = ["glorot_uniform", "he_normal", "zeros", "ones", "random_normal",
                     "lecun_uniform", "orthogonal", "truncated_normal"]

# The arguments a refusal may name, by the argument the draw made invalid.
ARGUMENTS = ["filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
             "dilation_rate", "activation", "use_bias"]


def pair_or_int(rng, low, high):
    """An int or a pair of ints in [low, high]: Keras takes either."""
    if rng.random() < 0.5:
        return int(rng.integers(low, high + 1))
    return [int(v) for v in rng.integers(low, high + 1, size=2)]


def as_pair(value):
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def random_case_letters(rng, word):
    return "".join(ch.upper() if rng.random() < 0.5 else ch for ch in word)


def initializer(rng, lib, names=INITIALIZER_NAMES):
    name = str(rng.choice(names))
    if rng.random() < 0.5:
        return name
    # As an object: what a user passes as `kernel_initializer=keras.initializers.HeNormal()`.
    return lib.initializers.get(name)


def draw_arguments(rng, lib, version):
    strides = pair_or_int(rng, 1, 3)
    dilation = 1
    if rng.random() < 0.3:
        # Keras refuses any stride > 1 together with any dilation > 1: draw that now and then.
        dilation = pair_or_int(rng, 1, 3)
        if rng.random() < 0.8:
            strides = 1
    output_padding = None
    if rng.random() < 0.5:
        # Mostly valid (below the stride), sometimes not: Keras refuses those and so must tconv.
        high = max(as_pair(strides)) - 1 if rng.random() < 0.8 else 3
        output_padding = pair_or_int(rng, 0, max(high, 0))
    args = {
        "filters": int(rng.integers(1, 6)),
        "kernel_size": pair_or_int(rng, 1, 4),
        "strides": strides,
        "padding": random_case_letters(rng, str(rng.choice(["valid", "same"]))),
        "output_padding": output_padding,
        "data_format": str(rng.choice(["channels_last", "channels_first"])),
        "dilation_rate": dilation,
        "activation": rng.choice(ACTIVATIONS[version]),
        "use_bias": bool(rng.random() < 0.8),
        "kernel_initializer": initializer(rng, lib),
        # Not orthogonal: it needs a 2-D tensor, so Keras fails to build any bias with it.
        "bias_initializer": initializer(rng, lib, INITIALIZER_NAMES[:-2] + ["truncated_normal"]),
    }
    if args["activation"] is not None:
        args["activation"] = str(args["activation"])
    return args


def rounded(a):
    return [round(float(v), 4) for v in np.asarray(a, dtype=np.float32).ravel()]


def plain(args, lib):
    """The constructor arguments as JSON: what a user who writes a config by hand gives."""
    out = {}
    for key, value in args.items():
        if key.endswith("_initializer") and not isinstance(value, str):
            value = lib.initializers.serialize(value)
        out[key] = value
    return out


def tconv_config(layer, args, lib, rng):
    """get_config() as the version writes it; in half the cases with the arguments spelled as
    the user gave them (int sizes, padding's letter case), which Keras' from_config takes too."""
    config = layer.get_config()
    if rng.random() < 0.5:
        for key in ("kernel_size", "strides", "dilation_rate", "padding", "output_padding"):
            config[key] = args[key]
    return json.loads(json.dumps(config))


def mentions_for(args):
    """The arguments a refusal of these arguments may rightly name. Keras' own words differ
    between versions; tconv must name at least one argument involved."""
    strides, dilation = as_pair(args["strides"]), as_pair(args["dilation_rate"])
    words = []
    if args["output_padding"] is not None:
        words.append("output_padding")
    if max(dilation) > 1:
        words += ["dilation_rate", "strides"]
    if max(strides) > 1 or args["output_padding"] is not None:
        words.append("strides")
    if args["padding"].lower() == "same":
        words += ["padding", "kernel_size"]
    if not words:
        words = list(ARGUMENTS)
    return sorted(set(words))


# TF's CPU kernel for transposed convolutions has no dilation (Keras 3 calls it with
# `dilations`; GPUs compute it). Same sums: the kernel with zeros between its taps, dilation 1.
CPU_HAS_NO_DILATION = "do not yet support dilation rates larger than 1"


def with_weights(layer, x_shape, kernel, bias):
    layer.build(x_shape)
    layer.set_weights([kernel] + ([bias] if layer.use_bias else []))
    return layer


def dilated(kernel, dilation):
    """The kernel with dilation - 1 zeros between its taps: a dilation-1 kernel, same sums."""
    kh, kw = kernel.shape[:2]
    out = np.zeros(((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1) + kernel.shape[2:],
                   dtype=np.float32)
    out[::dilation[0], ::dilation[1]] = kernel
    return out


def convolution_last(lib, args, x_last, kernel, bias):
    """The layer's convolution and bias, without its activation, on a channels_last input."""
    twin_args = dict(args, data_format="channels_last", activation=None)
    try:
        twin = with_weights(lib.layers.Conv2DTranspose(**twin_args), x_last.shape, kernel, bias)
        return np.asarray(twin(x_last))
    except Exception as error:  # noqa: BLE001
        if CPU_HAS_NO_DILATION not in str(error):
            raise
    wide = dilated(kernel, as_pair(args["dilation_rate"]))
    twin_args.update(kernel_size=list(wide.shape[:2]), dilation_rate=1)
    twin = with_weights(lib.layers.Conv2DTranspose(**twin_args), x_last.shape, wide, bias)
    return np.asarray(twin(x_last))


def keras_output(lib, args, x, kernel, bias):
    """layer(x) as Keras computes it. Where TF's CPU kernels cannot (channels_first, Keras 3's
    dilation), as Keras computes it on a GPU: the convolution and bias by a channels_last
    twin with the same weights, then the layer's own activation on its own layout."""
    layer = with_weights(lib.layers.Conv2DTranspose(**args), x.shape, kernel, bias)
    if args["data_format"] == "channels_last":
        try:
            return layer, np.asarray(layer(x))
        except Exception as error:  # noqa: BLE001
            if CPU_HAS_NO_DILATION not in str(error):
                raise
        y = convolution_last(lib, args, x, kernel, bias)
    else:
        y = convolution_last(lib, args, np.transpose(x, (0, 2, 3, 1)), kernel, bias)
        y = np.transpose(y, (0, 3, 1, 2))
    return layer, np.asarray(layer.activation(tf.constant(y)))


def brief(error):
    """Keras' words, without TF's stack dump: the lines that say what is wrong."""
    lines = [line.strip() for line in str(error).splitlines()
             if line.strip() and not line.startswith(("Arguments received", "  •"))]
    return " ".join(lines)[:300]


def draw_case(rng, lib, version, index):
    case = draw_keras_case(rng, lib, version, index)
    activation = case["config"].get("activation") if isinstance(case["config"], dict) else None
    if activation not in UNSUPPORTED:
        return case
    if case.get("expect_error") == "construct":  # Keras refused it too, for its own reason;
        # tconv may name either that argument or the activation.
        return dict(case, unsupported="refused",
                    error_mentions=["activation"] + case.get("error_mentions", []))
    keras_said = case.get("reason") or f"an output of shape {case['output_shape']}"
    kind = "refused" if case.get("expect_error") else "computed"
    # When Keras refused at call, another argument may be wrong too and tconv may name that.
    mentions = ["activation"] + case.get("error_mentions", [])
    for key in ("output", "output_shape", "expect_error", "reason", "error_mentions"):
        case.pop(key, None)
    return dict(case, expect_error="construct", error_mentions=mentions, unsupported=kind,
                reason=f"tconv refuses {activation} (Keras {kind}: {keras_said})")


def draw_keras_case(rng, lib, version, index):
    args = draw_arguments(rng, lib, version)
    first = args["data_format"] == "channels_first"
    batch, height, width, channels = (int(v) for v in rng.integers([1, 1, 1, 1], [5, 13, 13, 5]))
    shape = (batch, channels, height, width) if first else (batch, height, width, channels)
    x = np.array(rounded(rng.uniform(-3, 3, size=shape)), dtype=np.float32).reshape(shape)
    ks = as_pair(args["kernel_size"])
    kernel = np.array(rounded(rng.uniform(-1, 1, size=(ks[0], ks[1], args["filters"],
                                                      channels))), dtype=np.float32)
    kernel = kernel.reshape(ks[0], ks[1], args["filters"], channels)
    bias = np.array(rounded(rng.uniform(-1, 1, size=(args["filters"],))), dtype=np.float32)
    name = f"{version}_{index:04d}"
    base = {"name": name, "input_shape": list(shape), "input": rounded(x),
            "kernel": rounded(kernel), "bias": rounded(bias) if args["use_bias"] else None}
    try:
        lib.layers.Conv2DTranspose(**args)
    except Exception as error:  # noqa: BLE001  Keras refuses with ValueError, TypeError, ...
        return dict(base, config=plain(args, lib), expect_error="construct",
                    reason=f"{type(error).__name__}: {brief(error)}",
                    error_mentions=mentions_for(args))
    try:
        layer, y = keras_output(lib, args, x, kernel, bias)
    except Exception as error:  # noqa: BLE001  TF's InvalidArgumentError, ValueError, ...
        config = tconv_config(lib.layers.Conv2DTranspose(**args), args, lib, rng)
        return dict(base, config=config, expect_error="call",
                    reason=f"{type(error).__name__}: {brief(error)}",
                    error_mentions=mentions_for(args))
    config = tconv_config(layer, args, lib, rng)
    if y.size == 0 and same_even_kernel_no_output_padding(args):
        # TF refuses these arguments at call (spec section 3.3) unless an output axis is 0
        # long: then its op returns the empty tensor before it checks the shapes. tconv refuses
        # them at construction whatever the input (spec section 1), so that is what the case
        # expects; the run counts these cases apart, so the gap is printed, not hidden.
        return dict(base, config=config, expect_error="construct", empty_output=True,
                    reason=f"Keras returned an empty tensor of shape {list(y.shape)}",
                    error_mentions=mentions_for(args))
    return dict(base, config=config, output_shape=list(y.shape),
                output=[float(v) for v in y.ravel()])


def same_even_kernel_no_output_padding(args):
    """Spec section 3.3: padding "same", output_padding 0 and an even effective kernel
    ((k - 1) * d + 1) on one axis, which TensorFlow cannot run."""
    if args["padding"].lower() != "same" or args["output_padding"] is None:
        return False
    axes = zip(as_pair(args["kernel_size"]), as_pair(args["dilation_rate"]),
               as_pair(args["output_padding"]))
    return any((k - 1) * d % 2 == 1 and op == 0 for k, d, op in axes)


def write_cases(version, lib, count, seed, path):
    rng = np.random.default_rng([seed, 3 if version == "keras3" else 2])
    kinds = {"golden": 0, "construct": 0, "call": 0, "unsupported computed": 0,
             "unsupported refused": 0, "empty": 0}
    with open(path, "w") as out:
        for index in range(count):
            case = draw_case(rng, lib, version, index)
            if "unsupported" in case:
                kinds["unsupported " + case["unsupported"]] += 1
            elif case.get("empty_output"):
                kinds["empty"] += 1
            else:
                kinds[case.get("expect_error", "golden")] += 1
            out.write(json.dumps(case) + "\n")
    return kinds


def run_tconv(tconv, args):
    done = subprocess.run([tconv, "conformance", *args], capture_output=True, text=True,
                          timeout=600)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    found = re.match(r"(\d+) passed, (\d+) failed", last)
    if not found:
        sys.exit(f"tconv conformance {' '.join(args)} printed no totals:\n{done.stdout}"
                 f"\n{done.stderr}")
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    return int(found[1]), int(found[2]), failures


def describe(path, name):
    with open(path) as cases:
        for line in cases:
            case = json.loads(line)
            if case["name"] == name:
                keras_said = case.get("reason", "an output of shape "
                                      f"{case.get('output_shape')}")
                return (f"    config: {json.dumps(case['config'])}\n"
                        f"    input_shape: {case['input_shape']}\n"
                        f"    Keras: {keras_said}")
    return "    (case not found)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tconv", required=True, help="the tconv command-line tool")
    parser.add_argument("--server", help="also run every case through this tconv-server")
    parser.add_argument("--cases", type=int, default=300, help="configurations per version")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--workdir", help="where the case files go (default: a temp dir)")
    options = parser.parse_args()
    workdir = options.workdir or tempfile.mkdtemp(prefix="tconv-keras-")
    os.makedirs(workdir, exist_ok=True)

    disagreements = 0
    for version, lib in (("keras3", keras), ("keras2", tf_keras)):
        path = os.path.join(workdir, f"{version}_differential.jsonl")
        start = time.monotonic()
        kinds = write_cases(version, lib, options.cases, options.seed, path)
        print(f"{version} ({lib.__version__}): {options.cases} configurations, seed "
              f"{options.seed}: {kinds['golden']} outputs, {kinds['construct']} refused at "
              f"construction, {kinds['call']} refused at call "
              f"({time.monotonic() - start:.1f} s)", flush=True)
        print(f"  same + even kernel + output_padding 0 (tconv refuses at construction, TF at "
              f"call): {kinds['empty']} where Keras returned an empty tensor instead (an output "
              f"axis of length 0)", flush=True)
        if version == "keras3":
            print(f"  {', '.join(sorted(UNSUPPORTED))} (tconv refuses, INVALID_ARGUMENT naming "
                  f"the activation): {kinds['unsupported computed']} Keras computed, "
                  f"{kinds['unsupported refused']} Keras refused too", flush=True)
        for left_out in NOT_DRAWN[version]:
            print(f"  not drawn: {left_out}")
        runs = [("reference", ["--impl", "reference", path]), ("fast", ["--impl", "fast", path])]
        if options.server:
            runs.append(("server", ["--server", options.server, path]))
        for label, run_args in runs:
            passed, failed, failures = run_tconv(options.tconv, run_args)
            print(f"  tconv {label}: {passed} agree, {failed} disagree", flush=True)
            for failure in failures:
                name = failure.split()[1].rstrip(":")
                print(f"  {failure}\n{describe(path, name)}")
            disagreements += failed
    print(f"differential: {disagreements} disagreements")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
