"""scikit-learn's optimum for the probe's hardest logistic fit, to compare with ours.

PCA-32 of MNIST's training images, standardised with the training split's statistics, then
`LogisticRegression(C=100)` (the probe's alpha 0.01) on all 60,000 labels; prints its test
accuracy. `autoencoders probe` gets the same point as `pca 32 logistic 60000`, and
`tests/probe.rs` checks that our fit converges there (the solver this project used before,
linfa-logistic, stopped at 84.43 %).

    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn numpy
    /tmp/skvenv/bin/python scripts/logistic_check.py   # reads $AUTOENCODERS_DATA/mnist
"""
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
    root = os.environ.get("AUTOENCODERS_DATA")
    if not root:
        sys.exit("set AUTOENCODERS_DATA to the datasets folder (it holds mnist/)")
    mnist = os.path.join(root, "mnist")
    x, y = images(f"{mnist}/train-images-idx3-ubyte.gz"), labels(f"{mnist}/train-labels-idx1-ubyte.gz")
    xt, yt = images(f"{mnist}/t10k-images-idx3-ubyte.gz"), labels(f"{mnist}/t10k-labels-idx1-ubyte.gz")
    pca = PCA(32, svd_solver="full").fit(x)
    scaler = StandardScaler().fit(pca.transform(x))
    f, ft = scaler.transform(pca.transform(x)), scaler.transform(pca.transform(xt))
    start = time.time()
    model = LogisticRegression(C=100, max_iter=1000).fit(f, y)
    print(
        f"scikit-learn PCA-32, all labels, C=100: test accuracy {100 * model.score(ft, yt):.2f} %"
        f" ({model.n_iter_[0]} iterations, {time.time() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
