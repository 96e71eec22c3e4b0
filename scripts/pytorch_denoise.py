"""The denoising run of `scripts/denoise_parity.sh`, in PyTorch on the CPU.

The crate's conv autoencoder (`Conv` of `pytorch_epoch.py`), trained as `autoencoders train
--model conv --noise gaussian:SIGMA --val-split 0 --patience 0` trains it: all 60,000 MNIST
training images (pixels / 255), a fresh Gaussian noise of σ = SIGMA per batch clipped to [0, 1],
BCE-with-logits against the clean image, Adam (lr 1e-3), batches of 128 reshuffled each epoch.
The seed seeds the initialisation, the shuffling and the noise (PyTorch's generator: the draws
differ from the crate's, only the policy is the same). The test images are corrupted once,
with a generator seeded by the seed too. Prints one JSON line: PSNR (dB, peak 1, mean squared
error over every test pixel) of the noisy and the denoised test images.

    python3 scripts/pytorch_denoise.py --seed 0 --epochs 10 --sigma 0.5
"""
import argparse, json, os, sys, time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from pytorch_epoch import Conv, idx  # noqa: E402  (the same model and IDX reader)


def psnr(pred, target):
    return 10 * torch.log10(1.0 / torch.mean((pred.double() - target.double()) ** 2)).item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--sigma", type=float, default=0.5)
    p.add_argument("--code", type=int, default=32)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    root = os.path.join(os.environ["AUTOENCODERS_DATA"], "mnist")
    load = lambda name: torch.from_numpy(idx(os.path.join(root, name)).reshape(-1, 784).astype(np.float32) / 255)
    x, xt = load("train-images-idx3-ubyte.gz"), load("t10k-images-idx3-ubyte.gz")
    m = Conv(a.code).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for _ in range(a.epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), a.batch):
            clean = x[perm[i : i + a.batch]]
            noisy = (clean + a.sigma * torch.randn_like(clean)).clamp(0, 1)
            opt.zero_grad(set_to_none=True)
            loss_fn(m(noisy), clean).backward()
            opt.step()
    g = torch.Generator().manual_seed(a.seed ^ 0x7E575EED)
    noisy_test = (xt + a.sigma * torch.randn(xt.shape, generator=g)).clamp(0, 1)
    with torch.no_grad():
        denoised = torch.sigmoid(m(noisy_test))
    print(json.dumps({"impl": "pytorch", "seed": a.seed, "epochs": a.epochs, "sigma": a.sigma,
                      "psnr_noisy": round(psnr(noisy_test, xt), 4), "psnr_denoised": round(psnr(denoised, xt), 4),
                      "seconds": round(time.perf_counter() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
