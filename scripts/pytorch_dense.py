"""The same dense autoencoder as `examples/dense_epoch.rs`, in PyTorch on the CPU.

Same data (MNIST from $AUTOENCODERS_DATA, pixels / 255), same model (Linear layers with ReLU,
a linear code, sigmoid output trained through BCE-with-logits), same optimiser (Adam, lr 1e-3),
same batch size. Prints one JSON line per epoch, like the Rust example.

    python3 scripts/pytorch_dense.py --hidden 256 --code 64 --batch 256 --epochs 1 --threads 2
"""
import argparse, gzip, json, os, struct, time

import numpy as np
import torch
from torch import nn


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def model(hidden, code):
    widths = [784, *hidden, code]
    enc, dec = [], []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        # ReLU after hidden layers; the code stays linear, as in the crate's default.
        enc += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(widths) - 2 else [])
    back = widths[::-1]
    for i, (a, b) in enumerate(zip(back, back[1:])):
        dec += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(back) - 2 else [])
    return nn.Sequential(*enc, *dec)  # logits; sigmoid lives in the loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", default="256")
    p.add_argument("--code", type=int, default=64)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    root = os.path.join(os.environ["AUTOENCODERS_DATA"], "mnist")
    x = torch.from_numpy(idx(os.path.join(root, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255)
    xt = torch.from_numpy(idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255)
    hidden = [int(h) for h in a.hidden.split(",") if h]
    m = model(hidden, a.code)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    desc = "→".join(map(str, [784, *hidden, a.code, *hidden[::-1], 784]))
    for e in range(a.epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), a.batch):
            xb = x[perm[i : i + a.batch]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(m(xb), xb)
            loss.backward()
            opt.step()
        secs = time.perf_counter() - start
        with torch.no_grad():
            test = loss_fn(m(xt), xt).item()
        print(json.dumps({"impl": "pytorch", "model": desc, "epoch": e + 1, "seconds": round(secs, 4),
                          "samples_per_s": round(len(x) / secs), "test_loss": round(test, 5)}), flush=True)


if __name__ == "__main__":
    main()
