#!/usr/bin/python3
"""Writes the fixtures that pin Vigil's ScikitLearn randomness to numpy's and scikit-learn's own output.

tests/Vigil.Core.Tests/Ml/Fixtures/numpy-mt19937.json: numbers numpy's legacy RandomState draws (raw 32-bit
outputs, randint with 31-, 32- and 40-bit ranges, permutation) for integer and array seeds.
tests/Vigil.Core.Tests/Ml/Fixtures/sklearn-iforest.json: small data sets with ties and constant columns, and for
each the trees scikit-learn's IsolationForest fits on them (feature, threshold, n_node_samples, children of every
node, in scikit-learn's node order) and its scores (-score_samples) of every row. The cases cover the four ways
scikit-learn draws the rows of a tree: permutation (0.01 < psi/n < 0.99), all rows (n <= psi, no draw), reservoir
sampling (psi/n >= 0.99 with n > psi) and tracking selection (psi/n <= 0.01).

Run once with Debian's python3-sklearn (1.2.1) and numpy (1.24.2); the tests read the JSON and need no Python:
    /usr/bin/python3 scripts/sklearn-iforest-fixtures.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "Vigil.Core.Tests", "Ml", "Fixtures")


def numpy_cases():
    cases = []
    for seed in (0, 1, 5489, 4294967295, [1, 2], [123, 4294967295, 7]):
        rs = lambda: np.random.RandomState(seed)
        cases.append({
            "seed": seed,
            "uint32": [int(v) for v in rs().randint(2**32, size=8, dtype=np.uint32)],
            "randint31": [int(v) for v in rs().randint(2**31 - 1, size=8)],
            "randint1000": [int(v) for v in rs().randint(1000, size=8)],
            "randint40": [int(v) for v in rs().randint(2**40, size=4)],
            "permutation10": [int(v) for v in rs().permutation(10)],
            "permutation1000Head": [int(v) for v in rs().permutation(1000)[:10]],
        })
    return {"numpy": np.__version__, "cases": cases}


def data(rng, n, d):
    # Values on a coarse grid: many ties; column 1 constant; column 2 constant but for 1e-8 steps (below
    # scikit-learn's FEATURE_THRESHOLD, so constant to it too).
    x = np.round(rng.normal(size=(n, d)) * 2) / 2
    x[:, 1] = 3.0
    x[:, 2] = 1.0 + rng.randint(0, 2, size=n) * 1e-8
    x[:5, 0] += 6  # a few outliers
    return x.astype(np.float32)


def forest_case(name, x, seed, trees, sample):
    model = IsolationForest(n_estimators=trees, max_samples=sample, random_state=seed).fit(x)
    out = []
    for est in model.estimators_:
        t = est.tree_
        out.append({
            "feature": [int(v) for v in t.feature],
            "threshold": [float(v) for v in t.threshold],
            "samples": [int(v) for v in t.n_node_samples],
            "left": [int(v) for v in t.children_left],
            "right": [int(v) for v in t.children_right],
        })
    return {
        "name": name, "seed": seed, "trees": trees, "sample": sample,
        "rows": int(x.shape[0]), "features": int(x.shape[1]),
        "data": [float(v) for v in x.ravel()],
        "forest": out,
        "scores": [float(v) for v in -model.score_samples(x)],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "numpy-mt19937.json"), "w") as f:
        json.dump(numpy_cases(), f, separators=(",", ":"))
    rng = np.random.RandomState(2024)
    big = data(rng, 400, 4)
    cases = [
        forest_case("permutation", big, 0, 3, 256),
        forest_case("permutation, seed 2^32-1", big, 4294967295, 2, 256),
        forest_case("all rows", data(rng, 60, 4), 1, 3, 256),
        forest_case("reservoir", data(rng, 258, 3), 2, 2, 256),
        forest_case("tracking selection", big, 4, 4, 3),
        forest_case("one feature", rng.normal(size=(300, 1)).astype(np.float32), 5, 2, 64),
    ]
    with open(os.path.join(OUT, "sklearn-iforest.json"), "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
