#!/usr/bin/python3
"""Vigil's isolation forest against scikit-learn's, side by side in one run.

For every CSV in the data directory and for 5 seeds, fits scikit-learn's
IsolationForest(n_estimators=100, max_samples=256, random_state=seed) and runs
`dotnet vigil.dll ml iforest` with the same seed (and by default --rng sklearn, so the
same trees: the AUCs agree seed by seed), then prints a markdown table:
mean ROC AUC over the seeds, median fit time, median scoring rows/s, and ratios.

Both sides are timed inside their own process around the fit and the scoring
alone (Python: time.perf_counter around fit and score_samples; Vigil: its JSON's
fitMs and scoreMs), each after one untimed warm-up fit and score of the whole
set, so neither interpreter/runtime start, CSV parsing nor first-call costs count. Each
side fits and scores --repeat times per seed and keeps its median time; the AUC
is the same on every repeat (same seed).

Usage: /usr/bin/python3 scripts/compare-iforest.py [--data DIR] [--dll PATH] [--seeds 5] [--raw raw.json]
Needs Debian's python3-sklearn and python3-pandas, and a Release build of src/Vigil.Server.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sklearn_run(x, y, seed, repeat):
    IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(x).score_samples(x)
    fit_times, score_times = [], []
    for _ in range(repeat):
        model = IsolationForest(n_estimators=100, max_samples=256, random_state=seed)
        start = time.perf_counter()
        model.fit(x)
        fit_times.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        scores = -model.score_samples(x)  # score_samples is −s(x); higher means more normal
        score_times.append(time.perf_counter() - start)
    return {"auc": roc_auc_score(y, scores), "fitMs": statistics.median(fit_times),
            "scoreRowsPerSecond": len(x) / statistics.median(score_times)}


def vigil_run(dll, csv, seed, repeat, extra):
    cmd = ["dotnet", dll, "ml", "iforest", "--csv", csv, "--label-column", "label",
           "--trees", "100", "--sample", "256", "--seed", str(seed), "--repeat", str(repeat)] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/datasets/odds")
    parser.add_argument("--dll", default=os.path.join(ROOT, "src/Vigil.Server/bin/Release/net10.0/vigil.dll"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3,
                        help="fits and scorings per seed on each side; each side reports its median (default 3)")
    parser.add_argument("--raw", help="also write every run as JSON to this file")
    parser.add_argument("--vigil-args", default="", help="extra flags for vigil ml iforest, e.g. '--threads 2'")
    args = parser.parse_args()
    if not os.path.exists(args.dll):
        sys.exit(f"{args.dll} is missing: dotnet build src/Vigil.Server -c Release")

    raw = []
    rows_out = []
    worst_auc_gap = 0.0
    same_auc = 0
    for csv in sorted(glob.glob(os.path.join(args.data, "*.csv"))):
        name = os.path.splitext(os.path.basename(csv))[0]
        frame = pd.read_csv(csv)
        y = frame["label"].to_numpy().astype(int)
        # scikit-learn converts to float32 inside fit; converting first keeps that out of its timing.
        x = frame.drop(columns=["label"]).to_numpy(dtype=np.float32)
        ours, theirs = [], []
        for seed in range(args.seeds):
            # Alternate which side runs first, so neither always gets the cooler cache or the quieter moment.
            if seed % 2 == 0:
                theirs.append(sklearn_run(x, y, seed, args.repeat))
                ours.append(vigil_run(args.dll, csv, seed, args.repeat, args.vigil_args.split()))
            else:
                ours.append(vigil_run(args.dll, csv, seed, args.repeat, args.vigil_args.split()))
                theirs.append(sklearn_run(x, y, seed, args.repeat))
            raw.append({"dataset": name, "seed": seed, "vigil": ours[-1], "sklearn": theirs[-1]})
            # Vigil prints the AUC to 6 decimals.
            same_auc += abs(ours[-1]["auc"] - theirs[-1]["auc"]) < 5e-7
            print(f"{name} seed {seed}: AUC {ours[-1]['auc']:.4f} vs {theirs[-1]['auc']:.4f}, "
                  f"fit {ours[-1]['fitMs']:.2f} vs {theirs[-1]['fitMs']:.1f} ms, "
                  f"score {ours[-1]['scoreRowsPerSecond']:.0f} vs {theirs[-1]['scoreRowsPerSecond']:.0f} rows/s",
                  file=sys.stderr)
        auc_o = statistics.mean(r["auc"] for r in ours)
        auc_s = statistics.mean(r["auc"] for r in theirs)
        fit_o = statistics.median(r["fitMs"] for r in ours)
        fit_s = statistics.median(r["fitMs"] for r in theirs)
        rps_o = statistics.median(r["scoreRowsPerSecond"] for r in ours)
        rps_s = statistics.median(r["scoreRowsPerSecond"] for r in theirs)
        worst_auc_gap = max(worst_auc_gap, auc_s - auc_o)
        rows_out.append((name, x.shape[0], x.shape[1], auc_o, auc_s, auc_o - auc_s,
                         fit_o, fit_s, fit_s / fit_o, rps_o, rps_s, rps_o / rps_s))

    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, {args.seeds} seeds (0–{args.seeds - 1}), "
          f"{args.repeat} timed runs per seed; 100 trees, ψ = 256; Vigil flags: '{args.vigil_args}'; "
          f"AUC is the mean over the seeds, times the median over seeds of each seed's median.\n")
    print("| dataset | rows | features | AUC Vigil | AUC sklearn | Δ AUC | fit ms Vigil | fit ms sklearn | fit × "
          "| score rows/s Vigil | score rows/s sklearn | score × |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows_out:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:+.3f} | {r[6]:.2f} | {r[7]:.1f} | "
              f"{r[8]:.0f}× | {r[9]:,.0f} | {r[10]:,.0f} | {r[11]:.0f}× |")
    print(f"\nSame AUC (to 6 decimals) in {same_auc} of {len(raw)} runs. "
          f"Worst AUC shortfall against scikit-learn: {max(worst_auc_gap, 0):.3f} (goal ≤ 0.02); "
          f"smallest fit speed-up {min(r[8] for r in rows_out):.0f}× (goal ≥ 10×); "
          f"smallest scoring speed-up {min(r[11] for r in rows_out):.0f}× (goal ≥ 50×).")
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
