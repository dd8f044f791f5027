"""Checks that a peer computes what tconv computes, before the benchmark times it.

  python check.py --tconv=HOST:PORT --peer=HOST:PORT --model=NAME --shape=H,W,C [--batch=N]

Sends one random FP32 input [N, H, W, C] (tensor "input") to both over OIP v2 gRPC, reads
"output" from each and compares them elementwise with rtol 1e-4, atol 1e-5 (tconv agrees with
Keras to that in float32). Exits 0 when they agree, 1 with the largest difference when they do
not, 2 when a call fails. Needs tritonclient[grpc] and numpy: its environment is
  py=$(scripts/python-env.sh peer_check bench/service/peers/check_requirements.txt)
"""
import argparse
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


def infer(address, model, x):
    client = grpcclient.InferenceServerClient(url=address)
    request = grpcclient.InferInput("input", list(x.shape), "FP32")
    request.set_data_from_numpy(x)
    result = client.infer(model, [request],
                          outputs=[grpcclient.InferRequestedOutput("output")], client_timeout=60)
    y = result.as_numpy("output")
    if y is None:
        raise InferenceServerException(f"{address}: the response has no tensor 'output'")
    return y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tconv", required=True, help="tconv-server's gRPC HOST:PORT")
    parser.add_argument("--peer", required=True, help="the peer's gRPC HOST:PORT")
    parser.add_argument("--model", required=True, help="the layer's name on both")
    parser.add_argument("--shape", required=True, help="H,W,C of one example")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args()
    shape = [args.batch] + [int(d) for d in args.shape.split(",")]
    x = np.random.default_rng(args.seed).standard_normal(shape, dtype=np.float32)
    outputs = {}
    for who, address in (("tconv", args.tconv), ("peer", args.peer)):
        try:
            outputs[who] = infer(address, args.model, x)
        except InferenceServerException as e:
            print(f"check: {who} ({address}) failed on {args.model} {shape}: {e}", file=sys.stderr)
            return 2
    want, got = outputs["tconv"], outputs["peer"]
    if want.shape != got.shape:
        print(f"check: {args.model}: output shape differs: tconv {list(want.shape)}, peer "
              f"{list(got.shape)}", file=sys.stderr)
        return 1
    diff = np.abs(got.astype(np.float64) - want)
    bad = diff > args.atol + args.rtol * np.abs(want)
    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
    summary = (f"{args.model} {shape} -> {list(want.shape)}: max |peer - tconv| = "
               f"{diff.max():.3g} at {list(map(int, where))} (tconv {want[where]:.7g}, peer "
               f"{got[where]:.7g}), max |tconv| = {np.abs(want).max():.3g}")
    if bad.any():
        print(f"check: DIFFERENT: {int(bad.sum())} of {bad.size} values beyond rtol "
              f"{args.rtol:g} / atol {args.atol:g}; {summary}", file=sys.stderr)
        return 1
    print(f"check: same: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
