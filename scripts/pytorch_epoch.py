"""The same autoencoders as `examples/epoch.rs`, in PyTorch on the CPU.

Same data (MNIST from $AUTOENCODERS_DATA, pixels / 255), same models — dense: Linear layers
with ReLU, a linear code; conv: the crate's `ConvAutoencoder` (conv 1→16→32 stride 2, a dense
code, transposed convs back; channels-last memory format, PyTorch's fastest on CPU) — with a
sigmoid output trained through BCE-with-logits, same optimiser (Adam, lr 1e-3), same batch
size. Prints one JSON line per epoch, like the Rust example.

With --variant vae, the model of PyTorch's VAE example (examples/vae/main.py: fc1 784→400,
fc21/fc22 400→20 for μ and log σ², fc3 20→400, fc4 400→784) and its loss, BCE summed over
pixels plus the KL, z sampled in training and test alike; the test loss is per sample (nats).

    python3 scripts/pytorch_epoch.py --model dense --hidden 256 --code 64 --batch 256 --epochs 1 --threads 2
    python3 scripts/pytorch_epoch.py --variant vae --hidden 400 --code 20 --batch 128 --epochs 10 --seed 0
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


class Conv(nn.Module):
    """1×28×28 → 16×14×14 → 32×7×7 → code → 32×7×7 → 16×14×14 → 1×28×28 (logits)."""

    def __init__(self, code):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 7 * 7, code))
        self.decoder = nn.Sequential(
            nn.Linear(code, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 3, 2, 1, 1), nn.ReLU(), nn.ConvTranspose2d(16, 1, 3, 2, 1, 1))

    def forward(self, x):
        img = x.view(-1, 1, 28, 28).contiguous(memory_format=torch.channels_last)
        return self.decoder(self.encoder(img)).reshape(-1, 784)


class Vae(nn.Module):
    """PyTorch's VAE example, with the hidden width and code size as arguments."""

    def __init__(self, hidden, code):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, hidden), nn.Linear(hidden, code), nn.Linear(hidden, code)
        self.fc3, self.fc4 = nn.Linear(code, hidden), nn.Linear(hidden, 784)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(torch.relu(self.fc3(z))), mu, logvar


def vae_loss(out, x):
    """The example's loss summed over the batch: BCE over pixels plus KL(q(z|x) ‖ N(0, I))."""
    logits, mu, logvar = out
    bce = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class Lstm(nn.Module):
    """The crate's LstmAutoencoder: LSTM(1→64) final state → code → 64, repeated → LSTM(64→64) → 1 per step."""

    def __init__(self, code):
        super().__init__()
        self.enc, self.enc_fc = nn.LSTM(1, 64, batch_first=True), nn.Linear(64, code)
        self.dec_fc, self.dec, self.out = nn.Linear(code, 64), nn.LSTM(64, 64, batch_first=True), nn.Linear(64, 1)

    def forward(self, x):
        _, (h, _) = self.enc(x.unsqueeze(-1))
        r = torch.relu(self.dec_fc(self.enc_fc(h[-1]))).unsqueeze(1).repeat(1, x.shape[1], 1)
        y, _ = self.dec(r)
        return self.out(y).squeeze(-1)


def ecg(name):
    rows = np.loadtxt(os.path.join(os.environ["AUTOENCODERS_DATA"], "ecg5000", name))
    return torch.from_numpy(rows[:, 1:].astype(np.float32))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="dense", choices=["dense", "conv", "lstm"])
    p.add_argument("--hidden", default="256")
    p.add_argument("--code", type=int, default=64)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variant", default="plain", choices=["plain", "vae"])
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    hidden = [int(h) for h in a.hidden.split(",") if h]
    if a.model == "lstm":  # ECG5000's 500 training beats, MSE on the z-normalised values
        x, xt = ecg("ECG5000_TRAIN.tsv"), ecg("ECG5000_TEST.tsv")
        m, loss_fn, desc = Lstm(a.code), nn.MSELoss(), f"lstm code {a.code}"
    else:
        root = os.path.join(os.environ["AUTOENCODERS_DATA"], "mnist")
        x = torch.from_numpy(idx(os.path.join(root, "train-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255)
        xt = torch.from_numpy(idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255)
        m = model(hidden, a.code) if a.model == "dense" else Conv(a.code).to(memory_format=torch.channels_last)
        loss_fn = nn.BCEWithLogitsLoss()
        desc = "→".join(map(str, [784, *hidden, a.code, *hidden[::-1], 784])) if a.model == "dense" else f"conv code {a.code}"
        if a.variant == "vae":
            m, loss_fn, desc = Vae(hidden[0], a.code), vae_loss, f"vae {desc}"
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
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
            test = loss_fn(m(xt), xt).item() / (len(xt) if a.variant == "vae" else 1)
        steps = -(-len(x) // a.batch)
        print(json.dumps({"impl": "pytorch", "model": desc, "epoch": e + 1, "seconds": round(secs, 4),
                          "ms_per_step": round(secs / steps * 1e3, 3),
                          "samples_per_s": round(len(x) / secs), "test_loss": round(test, 5)}), flush=True)


if __name__ == "__main__":
    main()
