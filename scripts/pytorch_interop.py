"""Weights trained in PyTorch, saved in this library's model format.

Defines the crate's dense autoencoder 64 → 32 → 8 → 32 → 64 (ReLU hidden layers, a linear
code, sigmoid output, BCE loss) as a plain `nn.Sequential`, trains it for a few Adam steps on
the 8×8 digits the crate ships (`datasets/digits/digits.csv`, pixels / 16 — the crate's
min-max normaliser for that set), and writes a model directory the crate loads:

    OUT/config.json          the crate's RunConfig (model, data + normaliser, train settings)
    OUT/model.safetensors    weights renamed to the crate's names (table below), f32
    OUT/reference.safetensors  `input` (16 digits, normalised), PyTorch's `code` and
                               `reconstruction` of them, for the interop test

Tensor names (PyTorch `nn.Sequential` → autoencoders): activations take an index in a
Sequential but have no weights, so the crate numbers only its Linear layers:

    encoder.0.{weight,bias}  →  encoder.0.{weight,bias}   (32 × 64, 32)
    encoder.2.{weight,bias}  →  encoder.1.{weight,bias}   (8 × 32, 8)
    decoder.0.{weight,bias}  →  decoder.0.{weight,bias}   (32 × 8, 32)
    decoder.2.{weight,bias}  →  decoder.1.{weight,bias}   (64 × 32, 64)

Weights keep PyTorch's `nn.Linear` layout (out × in); nothing is transposed.

    pip install torch safetensors numpy
    python3 scripts/pytorch_interop.py --out tests/fixtures/pytorch-dense
"""
import argparse, json, os

import numpy as np
import torch
from torch import nn
from safetensors.torch import save_file

SIZES = [64, 32, 8]


def sequential(widths):
    """Linear layers with ReLU between them; no activation after the last."""
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DenseAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = sequential(SIZES)
        self.decoder = sequential(SIZES[::-1])

    def forward(self, x):
        return torch.sigmoid(self.decoder(self.encoder(x)))


def crate_names(state):
    """`encoder.2.weight` → `encoder.1.weight`: count Linear layers only."""
    out = {}
    for part in ("encoder", "decoder"):
        linear = sorted({int(k.split(".")[1]) for k in state if k.startswith(part + ".")})
        for i, torch_index in enumerate(linear):
            for t in ("weight", "bias"):
                out[f"{part}.{i}.{t}"] = state[f"{part}.{torch_index}.{t}"].detach().float().contiguous()
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    root = os.path.join(os.path.dirname(__file__), "..")
    raw = np.loadtxt(os.path.join(root, "datasets/digits/digits.csv"), delimiter=",", skiprows=1)
    x = torch.tensor(raw[:, 1:] / 16.0, dtype=torch.float32)

    model = DenseAutoencoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(args.steps):
        batch = x[torch.randint(0, len(x), (64,))]
        loss = nn.functional.binary_cross_entropy(model(batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"{args.steps} steps, last batch BCE {loss.item():.4f}")

    os.makedirs(args.out, exist_ok=True)
    save_file(crate_names(model.state_dict()), os.path.join(args.out, "model.safetensors"))
    probe = x[:16]
    with torch.no_grad():
        code = model.encoder(probe)
        recon = model(probe)
    save_file(
        {"input": probe.contiguous(), "code": code.contiguous(), "reconstruction": recon.contiguous()},
        os.path.join(args.out, "reference.safetensors"),
    )
    config = {
        "model": {
            "kind": "dense",
            "input": SIZES[0],
            "hidden": SIZES[1:-1],
            "code": SIZES[-1],
            "activation": "relu",
            "code_activation": "identity",
            "output_activation": "sigmoid",
            "loss": "bce",
        },
        "data": {"dataset": "digits", "normalizer": {"kind": "min_max", "min": 0.0, "max": 16.0}},
        "train": {
            "epochs": 1,
            "batch_size": 64,
            "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
            "seed": 0,
            "val_split": 0.0,
            "patience": None,
            "schedule": "constant",
        },
        "command": f"python3 scripts/pytorch_interop.py --out {args.out} --steps {args.steps}"
        f"  # PyTorch {torch.__version__}",
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}/config.json, model.safetensors, reference.safetensors")


if __name__ == "__main__":
    main()
