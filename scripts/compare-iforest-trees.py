#!/usr/bin/python3
"""Checks that `vigil ml iforest --rng sklearn` grows exactly scikit-learn's trees.

For every CSV in the data directory and every seed, fits scikit-learn's
IsolationForest(n_estimators=100, max_samples=256, random_state=seed) and runs
`dotnet vigil.dll ml iforest --rng sklearn --seed seed --model-out FILE`, reads the saved forest,
and walks each pair of trees together: the same leaves, the same split feature, the same split
(Vigil keeps the largest float not above scikit-learn's double threshold, which splits float32
values identically) and the same number of training rows at every node. Prints one line per
data set and seed, and exits non-zero if any tree differs.

Usage: /usr/bin/python3 scripts/compare-iforest-trees.py [--data DIR] [--dll PATH] [--seeds 0,1,2,3,4]
       [--trees 100] [--sample 256]
"""
import argparse
import glob
import os
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_forest(path):
    """Vigil's forest format (IsolationForest.Save): header, roots, then per node feature, split, left, path, rows."""
    blob = open(path, "rb").read()
    magic, version, _features, _sample, _depth = struct.unpack_from("<5i", blob, 0)
    if magic != 0x46494756 or version != 1:
        sys.exit(f"{path}: not a version-1 Vigil forest")
    trees, count = struct.unpack_from("<2i", blob, 36)
    roots = struct.unpack_from(f"<{trees}i", blob, 44)
    nodes = list(struct.iter_unpack("<ififi", blob[44 + 4 * trees:44 + 4 * trees + 20 * count]))
    return roots, nodes


def split_as_float(threshold):
    value = np.float32(threshold)
    return np.nextafter(value, np.float32(-np.inf)) if float(value) > threshold else value


def first_difference(tree, nodes, root):
    t = tree.tree_
    pending = [(0, root)]
    while pending:
        theirs, ours = pending.pop()
        feature, split, left, _path, rows = nodes[ours]
        if t.n_node_samples[theirs] != rows:
            return f"node {theirs}: {rows} rows, scikit-learn {t.n_node_samples[theirs]}"
        if (t.children_left[theirs] == -1) != (left == ours):
            return f"node {theirs}: a leaf in one tree only"
        if left == ours:
            continue
        if t.feature[theirs] != feature:
            return f"node {theirs}: feature {feature}, scikit-learn {t.feature[theirs]}"
        if split_as_float(t.threshold[theirs]) != np.float32(split):
            return f"node {theirs}: split {split!r}, scikit-learn {t.threshold[theirs]!r}"
        pending.append((t.children_right[theirs], left + 1))
        pending.append((t.children_left[theirs], left))
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/datasets/odds")
    parser.add_argument("--dll", default=os.path.join(ROOT, "src/Vigil.Server/bin/Release/net10.0/vigil.dll"))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--sample", type=int, default=256)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # max_samples above the row count is capped, as Vigil does
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        model = os.path.join(scratch, "forest.bin")
        for csv in sorted(glob.glob(os.path.join(args.data, "*.csv"))):
            frame = pd.read_csv(csv)
            x = frame.drop(columns=["label"]).to_numpy(dtype=np.float32)
            for seed in (int(s) for s in args.seeds.split(",")):
                subprocess.run(["dotnet", args.dll, "ml", "iforest", "--csv", csv, "--rng", "sklearn",
                                "--seed", str(seed), "--trees", str(args.trees), "--sample", str(args.sample),
                                "--model-out", model], check=True, capture_output=True)
                roots, nodes = read_forest(model)
                forest = IsolationForest(n_estimators=args.trees, max_samples=args.sample, random_state=seed).fit(x)
                differing = [(i, d) for i, d in ((i, first_difference(e, nodes, roots[i]))
                                                 for i, e in enumerate(forest.estimators_)) if d]
                failures += len(differing)
                detail = f"; first: tree {differing[0][0]}, {differing[0][1]}" if differing else ""
                print(f"{os.path.basename(csv)} seed {seed}: {len(forest.estimators_) - len(differing)} of "
                      f"{len(forest.estimators_)} trees identical{detail}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
