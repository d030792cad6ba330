#!/usr/bin/python3
"""K-means quality and speed: Vigil (ML.NET's KMeansTrainer, k-means++) against scikit-learn's KMeans, side by side.

For each data set, Vigil's `ml kmeans` standardises the columns (log(1+x) first for the count-like user features),
writes the standardised rows with --standardized-out, and fits k-means with --restarts k-means++ starts; scikit-learn
then fits KMeans(n_clusters=k, init="k-means++", n_init=restarts, random_state=seed) on exactly those rows (float32,
as Vigil), single-threaded (OMP_NUM_THREADS=1, like Vigil's one ML.NET thread). Both report the inertia (sum of
squared distances to the nearest centre) of their best start and the fit time measured inside the process after one
untimed warm-up fit. Data sets: the per-user features of a simulator run (`vigil ml features`) and the ODDS CSVs.

    /usr/bin/python3 scripts/compare-kmeans.py --features features.csv
    /usr/bin/python3 scripts/compare-kmeans.py --events e.jsonl        # runs `vigil ml features` first
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def vigil(args, vigil_dll):
    out = subprocess.run(["dotnet", vigil_dll] + args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def sklearn_fit(x, k, n_init, seed, repeat):
    KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(x)  # warm-up
    times, best = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(x)
        times.append((time.perf_counter() - start) * 1000)
        best = km
    return best.inertia_, float(np.median(times)), best.n_iter_


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vigil", default=os.path.join(ROOT, "src/Vigil.Server/bin/Release/net10.0/vigil.dll"))
    p.add_argument("--features", help="per-user features CSV from `vigil ml features`")
    p.add_argument("--events", help="JSON-lines events; `vigil ml features` makes the features CSV from them")
    p.add_argument("--odds", default=os.path.join(ROOT, "../shared/datasets/odds"))
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--restarts", type=int, default=10, help="Vigil's k-means++ starts (--restarts)")
    p.add_argument("--n-init", type=int, default=None, help="scikit-learn's n_init (default: the same as --restarts)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    a.n_init = a.n_init or a.restarts

    work = tempfile.mkdtemp(prefix="vigil-kmeans-")
    sets = []
    if a.events and not a.features:
        a.features = os.path.join(work, "features.csv")
        print("features:", json.dumps(vigil(["ml", "features", "--events", a.events, "--out", a.features], a.vigil)), file=sys.stderr)
    if a.features:
        sets.append(("user features (simulator)", a.features))
    for path in sorted(glob.glob(os.path.join(a.odds, "*.csv"))):
        sets.append((os.path.splitext(os.path.basename(path))[0], path))

    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}; k={a.k}, Vigil {a.restarts} starts, scikit-learn n_init={a.n_init}, "
          f"seeds 0..{a.seeds - 1}, {a.repeat} timed fits per seed (median), single-threaded")
    print()
    print("| data set | rows | features | inertia Vigil | inertia sklearn | Vigil / sklearn | worst seed | fit ms Vigil | fit ms sklearn |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, path in sets:
        ratios, ours, theirs, our_ms, their_ms = [], [], [], [], []
        rows = features = 0
        for seed in range(a.seeds):
            std = os.path.join(work, "std.csv")
            v = vigil(["ml", "kmeans", "--csv", path, "--k", str(a.k), "--restarts", str(a.restarts), "--seed", str(seed),
                       "--standardized-out", std, "--repeat", str(a.repeat)], a.vigil)
            x = pd.read_csv(std).to_numpy(dtype=np.float32)
            inertia, ms, _ = sklearn_fit(x, a.k, a.n_init, seed, a.repeat)
            rows, features = v["rows"], v["features"]
            ours.append(v["inertia"]); theirs.append(inertia); ratios.append(v["inertia"] / inertia)
            our_ms.append(v["fitMs"]); their_ms.append(ms)
        print(f"| {name} | {rows} | {features} | {np.mean(ours):.1f} | {np.mean(theirs):.1f} | {np.mean(ratios):.4f} | "
              f"{max(ratios):.4f} | {np.median(our_ms):.1f} | {np.median(their_ms):.1f} |", flush=True)


if __name__ == "__main__":
    main()
