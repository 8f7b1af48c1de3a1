"""Time logging audits to MLflow, and loading a model from its registry (needs the mlflow extra).

    python benchmarks/bench_mlflow.py [--repeats 5] [--results reports/<run>/]

Uses a fresh local SQLite tracking store in a temporary folder (no server). Logs one
audit (a report folder's results.json and files; by default the demo's, made with
``audit demo --no-pdf``) ``--repeats`` times as single runs and as a two-model parent run,
then registers the demo model and loads it back by ``models:/``; prints each step's wall time
and what one run holds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--results", type=Path, default=None, help="a report folder (default: run the demo)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = args.results
        if folder is None:
            subprocess.run([sys.executable, "-m", "audit", "demo", "--work", str(tmp / "work"), "--out",
                            str(tmp / "reports"), "--no-pdf", "--quiet"], check=True, capture_output=True)
            folder = next(p for p in (tmp / "reports").iterdir() if p.is_dir())
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        t0 = time.perf_counter()
        import mlflow

        from audit.compare import load_results
        from audit.integrations.mlflow import log_audit, log_audits
        from audit.models.mlflow import load_mlflow_model

        t_import = time.perf_counter() - t0
        t0 = time.perf_counter()
        client = mlflow.MlflowClient()
        exp = client.create_experiment("bench", artifact_location=(tmp / "artifacts").as_uri())
        t_store = time.perf_counter() - t0
        result = load_results(folder)
        singles, pairs = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run_id = log_audit(result, folder, experiment="bench")
            singles.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            log_audits([result, result], [folder, folder], experiment="bench")
            pairs.append(time.perf_counter() - t0)
        run = client.get_run(run_id)
        artifacts = client.list_artifacts(run_id, "audit-report")
        print(f"import mlflow + audit.integrations: {t_import:.2f} s; new SQLite store: {t_store:.2f} s")
        print(f"log_audit, one model ({len(result.results)} checks): median {_median(singles):.3f} s, "
              f"best {min(singles):.3f} s over {args.repeats}")
        print(f"log_audits, parent + 2 children: median {_median(pairs):.3f} s, best {min(pairs):.3f} s")
        print(f"one run holds {len(run.data.metrics)} metrics, {len(run.data.tags)} tags, "
              f"{len(run.data.params)} params, {len(artifacts)} artifacts "
              f"({sum(a.file_size or 0 for a in artifacts) / 1024:.0f} KiB)")

        import skops.io as sio

        model_path = folder.parent.parent / "work" / "model.skops" if args.results is None else None
        if model_path is not None and model_path.exists():
            model = sio.load(model_path, trusted=sio.get_untrusted_types(file=model_path))
            with mlflow.start_run(experiment_id=exp):
                t0 = time.perf_counter()
                mlflow.sklearn.log_model(model, name="model", registered_model_name="bench-credit",
                                         pip_requirements=["scikit-learn"])
                t_reg = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_mlflow_model("models:/bench-credit/1", trust=True)
            print(f"register the demo model: {t_reg:.2f} s; load models:/bench-credit/1 (download, hash, "
                  f"load): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
