"""The standard workload (../shared/bench) audited end to end: CPU seconds per phase, beside other tools.

For each size it makes the seeded workload with ``make_workload.py``, trains the
HistGradientBoosting pipeline the workload's README describes (one-hot sex and race,
``max_iter=200, random_state=0``), saves it with skops, writes the standard audit's policy
(below: performance, fairness with 1,000-replicate intervals over sex, race and sex x race,
noise robustness, drift, OOD by confidence and by an isolation forest, data checks, the
latency profile and the cold start) and runs the whole ``audit run --trust-model`` process (the
skops file holds HGB's TreePredictor, outside skops' safe types), HTML and PDF included, single-threaded (``OMP_NUM_THREADS=1``), as the other tools were run.

    python benchmarks/bench_workload.py [--sizes 7000 70000 280000] [--no-pdf] [--work DIR]
                                        [--repo CHECKOUT] [--repeats 1]

It prints the CPU seconds (user + system, every thread, the cold-start child included) of each
phase of the process: interpreter start, imports and model load; sample pass; summary pass;
checks; HTML; PDF; other (manifest, results.json, JUnit, exit). ``benchmarks/_phases.py`` marks
the phases. ``--repo`` runs another checkout's ``audit`` on the same data and model (e.g. the
commit a change started from) so before and after are measured on the same machine and
session. ``--work`` keeps the data and models between runs. Training is not timed: it is the
user's model, not the audit. Results are appended to benchmarks/results/bench_workload.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
THEIRS = {  # wall seconds, from ../shared/bench/README.md
    7000: {"Deepchecks": 47, "Giskard": 13.5, "Evidently": 5.8, "fairlearn": 26, "Aequitas": 6.0},
    70000: {"Deepchecks": 146, "Giskard": 31, "Evidently": 8.3, "fairlearn": 155, "Aequitas": 7.1},
    280000: {"Deepchecks": 225, "Giskard": 89, "Evidently": 19.9, "fairlearn": 584, "Aequitas": 10.6},
}
PHASES = ["imports + model load", "sample pass", "summary pass", "checks", "HTML", "PDF", "other"]
SHORT = {"imports + model load": "import+load", "sample pass": "sample", "summary pass": "summary"}

FAIR = "params: {{sensitive: [sex, race], groups: both}}"
POLICY = """\
version: 1
name: bench-workload
model: {{path: model.skops}}
data: {{path: {test}, target: y, sensitive: [sex, race], reference: {train}}}
defaults: {{n_boot: 1000, min_group_size: 30}}
checks:
  - {{id: performance.accuracy, threshold: {{min: 0.6}}}}
  - {{id: performance.balanced_accuracy, threshold: {{min: 0.6}}}}
  - {{id: performance.precision, threshold: {{min: 0.5}}}}
  - {{id: performance.recall, threshold: {{min: 0.5}}}}
  - {{id: performance.f1, threshold: {{min: 0.5}}}}
  - {{id: performance.roc_auc, threshold: {{min: 0.7}}}}
  - {{id: performance.log_loss, threshold: {{max: 0.7}}}}
  - {{id: performance.brier_score, threshold: {{max: 0.25}}}}
  - {{id: performance.expected_calibration_error, threshold: {{max: 0.05}}}}
  - {{id: fairness.selection_rate, FAIR, threshold: {{min: 0.05}}}}
  - {{id: fairness.demographic_parity_ratio, FAIR, threshold: {{min: 0.8}}}}
  - {{id: fairness.demographic_parity_difference, FAIR, threshold: {{max: 0.1}}}}
  - {{id: fairness.equalized_odds_difference, FAIR, threshold: {{max: 0.1}}}}
  - {{id: fairness.equal_opportunity_difference, FAIR, threshold: {{max: 0.1}}}}
  - {{id: fairness.false_positive_rate_difference, FAIR, threshold: {{max: 0.1}}}}
  - {{id: fairness.predictive_parity_difference, FAIR, threshold: {{max: 0.1}}}}
  - {{id: fairness.accuracy_difference, FAIR, threshold: {{max: 0.1}}}}
  - {{id: fairness.calibration_difference, params: {{sensitive: [sex, race]}}, threshold: {{max: 0.1}}}}
  - {{id: robustness.metric_drop, evalset: perturbed.noise@0.1, params: {{metric: accuracy}}, threshold: {{max: 0.05}}}}
  - {{id: robustness.flip_rate, evalset: perturbed.noise@0.1, threshold: {{max: 0.1}}}}
  - {{id: shift.feature_drift, threshold: {{max: 0.2}}}}
  - {{id: ood.detection_auroc, params: {{detector: confidence}}, threshold: {{min: 0.6, blocking: false}}}}
  - {{id: ood.detection_auroc, params: {{detector: iforest}}, threshold: {{min: 0.8}}}}
  - {{id: data.train_test_duplicates, threshold: {{max: 0.01}}}}
  - {{id: data.single_feature_leakage, threshold: {{max: 0.95}}}}
  - {{id: data.class_balance, threshold: {{min: 0.1}}}}
  - {{id: data.group_representation, threshold: {{min: 0.05}}}}
  - {{id: data.missing_values, threshold: {{max: 0.05}}}}
  - {{id: latency.p50_ms, params: {{batch_size: 1}}, threshold: {{max: 50, blocking: false}}}}
  - {{id: latency.p95_ms, params: {{batch_size: 1}}, threshold: {{max: 50, blocking: false}}}}
  - {{id: latency.p99_ms, params: {{batch_size: 1}}, threshold: {{max: 100, blocking: false}}}}
  - {{id: latency.throughput_rows_per_s, params: {{batch_size: 1024}}, threshold: {{min: 10000, blocking: false}}}}
  - {{id: latency.cold_start_s, threshold: {{max: 30, blocking: false}}}}
""".replace("FAIR", FAIR)


def _train(train_path: Path, out: Path) -> float:
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    t0 = time.perf_counter()
    df = pd.read_parquet(train_path)
    X, y = df.drop(columns="y"), df["y"]
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "race"])],
                            remainder="passthrough")
    model = Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=200, random_state=0))])
    model.fit(X, y)
    sio.dump(model, out)
    return time.perf_counter() - t0


def prepare(size: int, folder: Path, env: dict) -> Path:
    """Data, model and policy of one size in ``folder`` (reused when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    n_train, n_test = size * 5 // 7, size * 2 // 7
    tag = f"n{n_train + n_test}"
    train, test = folder / f"train_{tag}.parquet", folder / f"test_{tag}.parquet"
    if not (train.exists() and test.exists()):
        subprocess.run([sys.executable, str(BENCH / "make_workload.py"), "--n-train", str(n_train), "--n-test",
                        str(n_test), "--out", str(folder)], check=True, env=env, capture_output=True)
    if not (folder / "model.skops").exists():
        _train(train, folder / "model.skops")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY.format(test=test.name, train=train.name))
    return policy


def run(policy: Path, repo: Path, pdf: bool, env: dict) -> dict:
    """One ``audit run`` process through the phase driver; its CPU per phase and its results."""
    out = policy.parent / f"reports-{os.getpid()}-{time.time_ns()}"
    phases = out.with_suffix(".phases.json")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "_phases.py"), str(phases), "run", str(policy),
           "--out", str(out), "--quiet", "--trust-model", *([] if pdf else ["--no-pdf"])]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**env, "PYTHONPATH": str(repo)}, cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"audit run failed ({proc.returncode}):\n{stderr[-3000:]}")
    ph = json.loads(phases.read_text())
    res = json.loads(next(out.glob("*/results.json")).read_text())
    slow = sorted(res["results"], key=lambda r: -r["duration_s"])[:4]
    return {"cpu_s": ph["cpu_s"], "total_cpu_s": ph["total_cpu_s"], "wall_s": wall,
            "counts": {k: v for k, v in res["summary"]["counts"].items() if v},
            "latency": {r["id"]: [r["verdict"], r["value"], (r.get("interval") or {}).get("low"),
                                  (r.get("interval") or {}).get("high")]
                        for r in res["results"] if r["family"] == "latency"},
            "slowest": ", ".join(f"{r['id']} {r['duration_s']:.1f}s" for r in slow)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[7000, 70000, 280000])
    ap.add_argument("--no-pdf", action="store_true", help="HTML, JSON and JUnit only")
    ap.add_argument("--work", default=None, help="folder keeping data and models (default: temporary)")
    ap.add_argument("--repo", default=str(ROOT), help="checkout whose audit runs (default: this one)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per size; the one with least CPU is shown")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-workload-"))
    repo = Path(args.repo).resolve()
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or repo.name
    print(f"audit from {repo} ({commit}); load average {os.getloadavg()[0]:.2f}; CPU seconds per phase")
    head = "".join(f"{SHORT.get(p, p):>12}" for p in PHASES)
    print(f"{'rows':>8}{head}{'total CPU':>11}{'wall':>7}   others (wall s)")
    rows = []
    for size in args.sizes:
        policy = prepare(size, work / f"n{size}", env)
        runs = [run(policy, repo, not args.no_pdf, env) for _ in range(args.repeats)]
        r = min(runs, key=lambda x: x["total_cpu_s"])
        rows.append({"rows": size, "repo": str(repo), "commit": commit, "pdf": not args.no_pdf,
                     "load_average": os.getloadavg(), **r})
        cells = "".join(f"{r['cpu_s'][p]:>12.2f}" for p in PHASES)
        theirs = ", ".join(f"{k} {v}" for k, v in THEIRS.get(size, {}).items())
        print(f"{size:>8}{cells}{r['total_cpu_s']:>11.2f}{r['wall_s']:>7.1f}   {theirs}", flush=True)
        print(f"{'':>8} verdicts {r['counts']}; slowest: {r['slowest']}", flush=True)
        lat = "; ".join(f"{k.split('.')[1]} {v[0]} {v[1]:.3g} [{v[2] if v[2] is None else f'{v[2]:.3g}'}, "
                        f"{v[3] if v[3] is None else f'{v[3]:.3g}'}]" for k, v in r["latency"].items()
                        if v[1] is not None)
        print(f"{'':>8} latency: {lat}", flush=True)
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(exist_ok=True)
    with open(res_dir / "bench_workload.json", "a") as fh:
        fh.write(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs": rows}) + "\n")


if __name__ == "__main__":
    main()
