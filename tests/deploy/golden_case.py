"""Golden conformance case <-> files the `tconv` tool reads and writes (standard library only).

  golden_case.py extract CASES.jsonl NAME DIR  -> DIR/config.json, kernel.npy, bias.npy (if the
                                                  case has a bias), input.npy, want.json
  golden_case.py compare DIR GOT.npy           -> exit 0 when GOT.npy has the case's output
                                                  shape and every element satisfies
                                                  |got - want| <= 1e-4 + 1e-4 * |want|
"""
import ast
import json
import math
import os
import struct
import sys


def write_npy(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack(f"<{len(values)}f", *values))


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise SystemExit(f"{path}: not a .npy file")
    major = data[6]
    length_size = 2 if major == 1 else 4
    (header_len,) = struct.unpack("<H" if major == 1 else "<I", data[8:8 + length_size])
    start = 8 + length_size + header_len
    header = ast.literal_eval(data[8 + length_size:start].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        raise SystemExit(f"{path}: expected little-endian float32 in C order, got {header}")
    shape = list(header["shape"])
    count = math.prod(shape)
    return shape, struct.unpack(f"<{count}f", data[start:start + 4 * count])


def extract(cases_path, name, out):
    with open(cases_path, encoding="utf-8") as f:
        case = next((c for c in map(json.loads, f) if c["name"] == name), None)
    if case is None:
        raise SystemExit(f"{cases_path}: no case {name}")
    cfg = case["config"]
    ks = cfg["kernel_size"] if isinstance(cfg["kernel_size"], list) else [cfg["kernel_size"]] * 2
    channels_first = cfg.get("data_format", "channels_last").lower() == "channels_first"
    in_channels = case["input_shape"][1 if channels_first else 3]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    write_npy(os.path.join(out, "kernel.npy"), [*ks, cfg["filters"], in_channels], case["kernel"])
    if case.get("bias") is not None:
        write_npy(os.path.join(out, "bias.npy"), [cfg["filters"]], case["bias"])
    write_npy(os.path.join(out, "input.npy"), case["input_shape"], case["input"])
    with open(os.path.join(out, "want.json"), "w", encoding="utf-8") as f:
        json.dump({"shape": case["output_shape"], "values": case["output"]}, f)


def compare(out, got_path):
    with open(os.path.join(out, "want.json"), encoding="utf-8") as f:
        want = json.load(f)
    shape, got = read_npy(got_path)
    if shape != want["shape"]:
        raise SystemExit(f"{got_path}: shape {shape}, expected {want['shape']}")
    for i, (g, w) in enumerate(zip(got, want["values"])):
        if not math.isfinite(g) or abs(g - w) > 1e-4 + 1e-4 * abs(w):
            raise SystemExit(f"{got_path}: element {i} is {g}, expected {w}")
    print(f"{got_path}: {len(got)} elements match the golden output")


if __name__ == "__main__":
    if sys.argv[1] == "extract":
        extract(*sys.argv[2:5])
    else:
        compare(*sys.argv[2:4])
