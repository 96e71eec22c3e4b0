"""Reference values for the crate's own layers, computed by PyTorch on the CPU.

For each case: a random input `x`, the layer's parameters, its output `y`, a random upstream
gradient `gy`, and the gradients of sum(y * gy) with respect to the input and parameters
(`dx`, `dweight`, `dbias`). Written as one safetensors file, keys `<case>.<name>`; the cases'
shapes are in `tests/layers.rs`, which checks our forward and backward passes against them.

    pip install torch safetensors
    python3 scripts/pytorch_layers.py --out tests/fixtures/layers.safetensors
"""
import argparse

import torch
from torch import nn
from safetensors.torch import save_file

# name: (batch, in channels, height, width, out channels, kernel, stride, padding)
CONV = {
    "conv_same": (2, 3, 7, 5, 4, 3, 1, 1),
    "conv_mnist_s2": (1, 1, 28, 28, 16, 3, 2, 1),
    "conv_k2s2": (3, 2, 6, 6, 3, 2, 2, 0),
    "conv_16_32": (2, 16, 14, 14, 32, 3, 2, 1),
    "conv_odd": (2, 2, 9, 8, 3, 4, 3, 2),
}
# name: (batch, in channels, height, width, out channels, kernel, stride, padding, output padding)
CONV_T = {
    "convt_s2_op1": (2, 4, 4, 3, 2, 3, 2, 1, 1),
    "convt_32_16": (1, 32, 7, 7, 16, 3, 2, 1, 1),
    "convt_k2s2": (3, 2, 5, 5, 3, 2, 2, 0, 0),
    "convt_s1": (2, 3, 3, 4, 2, 3, 1, 0, 0),
}
# name: (batch, channels, height, width, kernel, stride)
POOL = {"pool_2": (2, 3, 7, 6, 2, 2), "pool_3s1": (1, 2, 5, 5, 3, 1)}
# name: (batch, channels, height, width, out height, out width, mode)
UP = {"up_nearest": (2, 2, 3, 4, 6, 8, "nearest"), "up_bilinear": (1, 2, 3, 3, 7, 7, "bilinear")}
# name: (batch, steps, input features, hidden units, output: every step's h or the final h only)
LSTM = {"lstm_seq": (2, 5, 3, 4, "seq"), "lstm_final": (3, 7, 1, 6, "final"), "lstm_b1": (1, 4, 2, 3, "seq")}


class LstmCase(nn.Module):
    """nn.LSTM with the crate's parameter names (PyTorch's, without the `_l0` suffix)."""

    def __init__(self, i, h, final):
        super().__init__()
        self.lstm, self.final = nn.LSTM(i, h, batch_first=True), final

    def forward(self, x):
        y, _ = self.lstm(x)
        return y[:, -1] if self.final else y

    def named(self):
        return {n.removesuffix("_l0"): p for n, p in self.lstm.named_parameters()}


def run(out, name, layer, x):
    x = x.clone().requires_grad_(True)
    y = layer(x)
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    out[f"{name}.x"] = x.detach()
    out[f"{name}.y"] = y.detach()
    out[f"{name}.gy"] = gy
    out[f"{name}.dx"] = x.grad
    params = layer.named() if isinstance(layer, LstmCase) else {p: getattr(layer, p) for p in ("weight", "bias") if hasattr(layer, p)}
    for p, t in params.items():
        out[f"{name}.{p}"] = t.detach()
        out[f"{name}.d{p}"] = t.grad


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.manual_seed(0)
    out = {}
    for name, (b, ci, h, w, co, k, s, pad) in CONV.items():
        run(out, name, nn.Conv2d(ci, co, k, s, pad), torch.randn(b, ci, h, w))
    for name, (b, ci, h, w, co, k, s, pad, op) in CONV_T.items():
        run(out, name, nn.ConvTranspose2d(ci, co, k, s, pad, op), torch.randn(b, ci, h, w))
    for name, (b, c, h, w, k, s) in POOL.items():
        run(out, name, nn.MaxPool2d(k, s), torch.randn(b, c, h, w))
    for name, (b, c, h, w, oh, ow, mode) in UP.items():
        kw = {"align_corners": True} if mode == "bilinear" else {}
        run(out, name, nn.Upsample(size=(oh, ow), mode=mode, **kw), torch.randn(b, c, h, w))
    for name, (b, t, i, h, kind) in LSTM.items():
        run(out, name, LstmCase(i, h, kind == "final"), torch.randn(b, t, i))
    save_file({k: v.contiguous().float() for k, v in out.items()}, args.out)
    print(f"wrote {len(out)} tensors to {args.out} (PyTorch {torch.__version__})")


if __name__ == "__main__":
    main()
