#!/usr/bin/env python3
"""Read an fbcontrol checkpoint (.safetensors) with numpy alone.

    from load_checkpoint import load
    tensors, meta = load("data/pretrained/fb-seed1.safetensors")
    W_rec = tensors["rnn.weight_hh_l0"]          # numpy array, shape (N, N)
    meta["config"]["N"], meta["metrics"], meta["rng"]

`safetensors.numpy.load_file(path)` reads the same tensors, and the parameter names are the
reference code's PyTorch state_dict keys, so
`model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items() if k in model.state_dict()})`
loads them into the reference model. Run as a script to print a summary (or --json for a machine-readable one).
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32}
PLAIN_STRINGS = ("format", "format_version", "kind")


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: truncated ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: truncated header")
    header = json.loads(data[8 : 8 + n])
    raw_meta = header.pop("__metadata__", {})
    if raw_meta.get("format") != "fbcontrol.checkpoint" or raw_meta.get("format_version") != "1":
        raise ValueError(f"{path}: not an fbcontrol checkpoint of format version 1")
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        if base + end > len(data):
            raise ValueError(f"{path}: truncated in tensor {name}")
        tensors[name] = np.frombuffer(data[base + begin : base + end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
    meta = {k: (v if k in PLAIN_STRINGS else json.loads(v)) for k, v in raw_meta.items()}
    return tensors, meta


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    tensors, meta = load(argv[1])
    if "--json" in argv:
        summary = {name: {"shape": list(t.shape), "dtype": str(t.dtype), "sum": float(t.astype(np.float64).sum())} for name, t in tensors.items()}
        print(json.dumps({"tensors": summary, "meta": meta}))
        return 0
    print(f"{argv[1]}: {meta['kind']} (format version {meta['format_version']})")
    for name, t in sorted(tensors.items()):
        print(f"  {name:24s} {str(t.dtype):8s} {tuple(t.shape)}")
    print("  config:", json.dumps(meta.get("config")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
