"""scikit-learn's optimum for the probe's all-label logistic fits, to compare with ours.

By default PCA-32 of MNIST's training images, standardised with the training split's
statistics, then `LogisticRegression(C=100)` (the probe's alpha 0.01) on all 60,000 labels;
prints its test accuracy. `autoencoders probe` gets the same point as `pca 32 logistic 60000`,
and `tests/probe.rs` checks that our fit converges there (the solver this project used before,
linfa-logistic, stopped at 84.43 %). `--features pixels` fits the standardised raw pixels
instead (the probe's `pixels` row), `--dataset fashion-mnist` reads Fashion-MNIST, and
`--alpha` is the probe's L2 weight (C = 1/alpha) — e.g. the README's Fashion-MNIST pixel fit,
the one that stops at our 1,000-iteration cap: `--dataset fashion-mnist --features pixels
--alpha 100`.

    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn numpy
    /tmp/skvenv/bin/python scripts/logistic_check.py   # reads $AUTOENCODERS_DATA/mnist
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def images(path):
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float64)


def labels(path):
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist")
    parser.add_argument("--features", choices=["pca32", "pixels"], default="pca32")
    parser.add_argument("--alpha", type=float, default=0.01, help="the probe's L2 weight (C = 1/alpha)")
    args = parser.parse_args()
    root = os.environ.get("AUTOENCODERS_DATA")
    if not root:
        sys.exit(f"set AUTOENCODERS_DATA to the datasets folder (it holds {args.dataset}/)")
    folder = os.path.join(root, args.dataset)
    x, y = images(f"{folder}/train-images-idx3-ubyte.gz"), labels(f"{folder}/train-labels-idx1-ubyte.gz")
    xt, yt = images(f"{folder}/t10k-images-idx3-ubyte.gz"), labels(f"{folder}/t10k-labels-idx1-ubyte.gz")
    if args.features == "pca32":
        pca = PCA(32, svd_solver="full").fit(x)
        x, xt = pca.transform(x), pca.transform(xt)
    # StandardScaler leaves a constant feature (a border pixel) at scale 1, as the probe does.
    scaler = StandardScaler().fit(x)
    f, ft = scaler.transform(x), scaler.transform(xt)
    start = time.time()
    model = LogisticRegression(C=1 / args.alpha, max_iter=1000).fit(f, y)
    print(
        f"scikit-learn {args.dataset} {args.features}, all labels, C={1 / args.alpha:g}: "
        f"test accuracy {100 * model.score(ft, yt):.2f} %"
        f" ({model.n_iter_[0]} iterations, {time.time() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
