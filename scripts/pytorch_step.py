"""The workloads of `cargo bench --bench step` in PyTorch (CPU): one training step (forward,
backward, Adam) and one inference batch of each model, medians over rounds, same format.
Models come from `scripts/pytorch_epoch.py`, so they are the crate's architectures.

    python3 scripts/pytorch_step.py [ROUNDS] [--threads 2]
"""
import os, statistics, sys, time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from pytorch_epoch import Conv, Lstm, model as dense  # noqa: E402


def bench(name, m, x, loss_fn, rounds):
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    train, infer = [], []
    for r in range(rounds + 2):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(m(x), x).backward()
        opt.step()
        step = time.perf_counter() - t
        t = time.perf_counter()
        with torch.no_grad():
            m(x)
        if r >= 2:
            train.append(step)
            infer.append(time.perf_counter() - t)
    print(f"{name:44} batch {len(x):3}: train step {statistics.median(train) * 1e3:8.2f} ms   "
          f"inference {statistics.median(infer) * 1e3:7.2f} ms", flush=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rounds = int(args[0]) if args else 20
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = lambda n, d: (torch.arange(n * d) * 7919 % 1000).float().reshape(n, d) / 1000
    bce = nn.BCEWithLogitsLoss()
    bench("dense 784→256→64→256→784", dense([256], 64), data(256, 784), bce, rounds)
    bench("dense 784→128→64→32→64→128→784", dense([128, 64], 32), data(256, 784), bce, rounds)
    bench("conv 1→16→32 (3×3, stride 2), code 64", Conv(64).to(memory_format=torch.channels_last), data(64, 784), bce, rounds)
    bench("lstm 64 units, 140 steps, code 8", Lstm(8), data(32, 140), nn.MSELoss(), min(rounds, 10))


if __name__ == "__main__":
    main()
