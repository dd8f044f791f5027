"""`tconv import` of models saved by the real Keras, during the test run: the DCGAN generator
and the CVAE decoder of the TensorFlow tutorials (Dense, BatchNormalization, LeakyReLU,
Reshape between the Conv2DTranspose layers; the decoder nested in a functional model), plus a
hard_sigmoid layer whose formula differs between the versions, each saved as .keras and .h5
by Keras 3 (`keras`) and by Keras 2 (`tf_keras`). After `tconv import FILE --server`, every
imported layer's answer through the server must equal that Keras layer's layer(x) within the
conformance tolerance, and `tconv get` must report the Keras version that wrote the file.
Then the refusals: a truncated .keras, files that are not Keras models, a kernel of the wrong
dtype or shape, a name already served without --replace -- each exits 1 naming the file
(and the layer) with nothing created; and --repository writes the exact weights.

  $py tests/keras/import_models.py --tconv TCONV --server 127.0.0.1:PORT --workdir DIR
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402  Keras 3
import tf_keras  # noqa: E402  Keras 2

ABS_TOL = 1e-4  # the conformance tolerance (client/tool/conformance/conformance.h)
REL_TOL = 1e-4
LIBS = {"k3": keras, "k2": tf_keras}
VERSION = {"k3": "Keras 3", "k2": "Keras 2"}


def dcgan_generator(lib):
    """make_generator_model() of the DCGAN tutorial."""
    L = lib.layers
    return lib.Sequential([
        L.Input((100,)),
        L.Dense(7 * 7 * 256, use_bias=False), L.BatchNormalization(), L.LeakyReLU(),
        L.Reshape((7, 7, 256)),
        L.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
        L.BatchNormalization(), L.LeakyReLU(),
        L.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
        L.BatchNormalization(), L.LeakyReLU(),
        L.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False,
                          activation="tanh"),
    ], name="generator")


def cvae(lib):
    """The CVAE tutorial's decoder (latent_dim 2), nested in a functional model."""
    L = lib.layers
    decoder = lib.Sequential([
        L.Input((2,)),
        L.Dense(7 * 7 * 32, activation="relu"),
        L.Reshape((7, 7, 32)),
        L.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
        L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
        L.Conv2DTranspose(1, 3, strides=1, padding="same"),
    ], name="decoder")
    z = L.Input((2,))
    return lib.Model(z, decoder(z), name="cvae")


def hard_sigmoid(lib):
    """One layer whose answer depends on the Keras version (hard_sigmoid's formula)."""
    L = lib.layers
    return lib.Sequential([L.Input((4, 4, 3)),
                           L.Conv2DTranspose(2, 3, strides=2, activation="hard_sigmoid",
                                             name="hs")], name="hs_model")


# The other layers each import must list as skipped.
SKIPPED = {"dcgan": ["Dense", "BatchNormalization", "LeakyReLU", "Reshape"],
           "cvae": ["Dense", "Reshape"], "hs": []}
MODELS = {"dcgan": dcgan_generator, "cvae": cvae, "hs": hard_sigmoid}


def conv_layers(model, lib):
    for layer in model.layers:
        if isinstance(layer, lib.Model):
            yield from conv_layers(layer, lib)
        elif isinstance(layer, lib.layers.Conv2DTranspose):
            yield layer


def randomize(model, lib, rng):
    """Non-trivial kernels and biases (the initial biases are zeros)."""
    for layer in conv_layers(model, lib):
        layer.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32")
                           for w in layer.get_weights()])


def run(cmd, expect_ok=True):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if expect_ok and proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def served(args):
    out = run([args.tconv, "list", "--server", args.server]).stdout.splitlines()
    return sorted(line.split()[0] for line in out[:-1])


def compare(name, got, want):
    if got.shape != want.shape:
        sys.exit(f"FAIL: {name}: shape {got.shape}, Keras {want.shape}")
    bad = np.abs(got - want) > ABS_TOL + REL_TOL * np.abs(want)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        sys.exit(f"FAIL: {name}: element {i}: tconv {got[i]!r}, Keras {want[i]!r}")
    return float(np.abs(got - want).max())


def save_all(work, rng):
    """Every (model, Keras version, format) file; returns [(path, tag, lib, model)]."""
    saved = []
    for tag, lib in LIBS.items():
        for model_name, make in MODELS.items():
            model = make(lib)
            randomize(model, lib, rng)
            for ext in ("keras", "h5"):
                path = os.path.join(work, f"{model_name}_{tag}.{ext}")
                model.save(path)
                saved.append((path, tag, lib, model))
    return saved


def check_imports(args, saved, rng):
    layers = elements = 0
    worst = 0.0
    for path, tag, lib, model in saved:
        prefix = os.path.basename(path).replace(".", "_") + "_"
        out = run([args.tconv, "import", path, "--server", args.server,
                   f"--prefix={prefix}"]).stdout
        for layer in conv_layers(model, lib):
            name = prefix + layer.name
            if f"created {name} " not in out:
                sys.exit(f"FAIL: {path}: import did not report {name}:\n{out}")
            info = run([args.tconv, "get", "--server", args.server, f"--name={name}"]).stdout
            if VERSION[tag] not in info:
                sys.exit(f"FAIL: {name}: tconv get does not say {VERSION[tag]}:\n{info}")
            shape = (int(rng.integers(1, 4)),) + tuple(layer.input.shape[1:])
            x = rng.uniform(-2, 2, shape).astype("float32")
            want = np.asarray(layer(x))
            x_path, y_path = os.path.join(args.workdir, "x.npy"), os.path.join(args.workdir,
                                                                               "y.npy")
            np.save(x_path, x)
            run([args.tconv, "infer", "--server", args.server, f"--name={name}",
                 f"--input={x_path}", f"--output={y_path}"])
            worst = max(worst, compare(f"{path} layer {layer.name}", np.load(y_path), want))
            layers += 1
            elements += want.size
        model_name = os.path.basename(path).split("_")[0]
        for skipped in SKIPPED[model_name]:
            if f"({skipped})" not in out:
                sys.exit(f"FAIL: {path}: import does not list the skipped {skipped}:\n{out}")
    print(f"import: {len(saved)} saved models, {layers} layers through the server equal "
          f"Keras' layer(x) ({elements} elements, max |diff| {worst:.3g})")


def expect_refusal(args, cmd, must_mention, what):
    before = served(args)
    proc = run(cmd, expect_ok=False)
    message = proc.stderr
    if proc.returncode != 1 or not all(m in message for m in must_mention):
        sys.exit(f"FAIL: {what}: exit {proc.returncode}, want 1 and a message naming "
                 f"{must_mention}:\n{proc.stdout}{message}")
    if served(args) != before:
        sys.exit(f"FAIL: {what}: the server's layers changed:\n{before}\n{served(args)}")
    print(f"refused ({what}): {message.strip().splitlines()[0]}")


def check_refusals(args, saved):
    work = args.workdir
    dcgan_keras = next(p for p, tag, _, _ in saved if p.endswith("dcgan_k3.keras"))
    cvae_h5 = next(p for p, tag, _, _ in saved if p.endswith("cvae_k2.h5"))
    cvae_keras = next(p for p, tag, _, _ in saved if p.endswith("cvae_k3.keras"))
    server = ["--server", args.server]
    count = 0

    truncated = os.path.join(work, "truncated.keras")
    with open(dcgan_keras, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    expect_refusal(args, [args.tconv, "import", truncated] + server, [truncated],
                   "truncated .keras")
    count += 1

    text = os.path.join(work, "notes.keras")
    with open(text, "w") as f:
        f.write("not a model\n")
    expect_refusal(args, [args.tconv, "import", text] + server, [text, "not"], "text file")
    count += 1

    weights_only = os.path.join(work, "only.weights.h5")
    tf_keras.Sequential([tf_keras.layers.Input((4, 4, 3)),
                         tf_keras.layers.Conv2DTranspose(2, 3)]).save_weights(weights_only)
    expect_refusal(args, [args.tconv, "import", weights_only] + server,
                   [weights_only, "model_config"], "weights-only .h5")
    count += 1

    # A kernel of the wrong dtype, then of the wrong shape, in the tf-keras .h5 of the CVAE.
    for kind in ("dtype", "shape"):
        broken = os.path.join(work, f"wrong_{kind}.h5")
        shutil.copy(cvae_h5, broken)
        with h5py.File(broken, "r+") as h5:
            names = [n if isinstance(n, str) else n.decode()
                     for n in h5["model_weights/decoder"].attrs["weight_names"]]
            kernel = next(n for n in names if "conv2d_transpose" in n and "kernel" in n)
            full = "model_weights/decoder/" + kernel
            value = h5[full][()]
            del h5[full]
            h5[full] = value.astype("float64") if kind == "dtype" else value[:, :, :-1, :]
        layer = kernel.split("/")[-2]
        expect_refusal(args, [args.tconv, "import", broken] + server,
                       [broken, layer, "float32" if kind == "dtype" else "shape"],
                       f"kernel of the wrong {kind}")
        count += 1

    # A kernel cut along in_channels in the .keras of the CVAE: only the layer's recorded
    # build_config.input_shape tells (tf-keras' .h5 records none).
    cut = os.path.join(work, "wrong_in_channels.keras")
    with zipfile.ZipFile(cvae_keras) as src, zipfile.ZipFile(cut, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "model.weights.h5":
                weights = os.path.join(work, "cut.weights.h5")
                with open(weights, "wb") as f:
                    f.write(data)
                with h5py.File(weights, "r+") as h5:
                    full = "layers/sequential/layers/conv2d_transpose_1/vars/0"
                    value = h5[full][()]
                    del h5[full]
                    h5[full] = value[:, :, :, :-1]
                with open(weights, "rb") as f:
                    data = f.read()
            dst.writestr(item, data)
    expect_refusal(args, [args.tconv, "import", cut] + server, [cut, "built for input shape"],
                   "kernel of the wrong in_channels")
    count += 1

    # One layer of the CVAE served already: the whole import is refused, nothing created.
    cvae_model = next(m for p, _, _, m in saved if p == cvae_keras)
    first = next(conv_layers(cvae_model, keras)).name
    run([args.tconv, "import", cvae_keras, "--prefix=dup_", f"--only={first}"] + server)
    expect_refusal(args, [args.tconv, "import", cvae_keras, "--prefix=dup_"] + server,
                   ["already served", "--replace"], "name served, no --replace")
    count += 1
    replaced = run([args.tconv, "import", cvae_keras, "--prefix=dup_", "--replace"] + server)
    if "replaced dup_" not in replaced.stdout:
        sys.exit(f"FAIL: --replace did not replace:\n{replaced.stdout}")
    print(f"refusals: {count} refused with nothing created; --replace then imports")


def check_repository(args, saved):
    path, tag, lib, model = next(s for s in saved if s[0].endswith("cvae_k3.h5"))
    repo = os.path.join(args.workdir, "repository")
    out = run([args.tconv, "import", path, f"--repository={repo}"]).stdout
    for layer in conv_layers(model, lib):
        folder = os.path.join(repo, layer.name)
        weights = layer.get_weights()
        if not np.array_equal(np.load(os.path.join(folder, "kernel.npy")), weights[0]) or \
                not np.array_equal(np.load(os.path.join(folder, "bias.npy")), weights[1]):
            sys.exit(f"FAIL: {folder}: weights differ from Keras'\n{out}")
        with open(os.path.join(folder, "config.json")) as f:
            dtype = json.load(f)["keras"]["dtype"]
        if not isinstance(dtype, dict) or dtype.get("class_name") != "DTypePolicy":
            sys.exit(f"FAIL: {folder}: a Keras 3 file's layer lacks the Keras 3 marker: {dtype}")
    print(f"repository: {path} written to {repo} with Keras' exact weights, as Keras 3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tconv", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    rng = np.random.default_rng(14)
    saved = save_all(args.workdir, rng)
    check_imports(args, saved, rng)
    check_refusals(args, saved)
    check_repository(args, saved)
    print("import tests: all passed")


if __name__ == "__main__":
    main()
