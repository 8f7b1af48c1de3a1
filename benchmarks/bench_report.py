"""CPU seconds to render the report (HTML, then PDF) of the standard workload, or of any results.json.

The standard workload is ../shared/bench (see bench_workload.py): the HGB pipeline audited at
70k rows (50k train + 20k test) with the policy of bench_workload.py. The audit runs once,
without a PDF; then each renderer runs in a fresh process, several times, and the benchmark
prints the CPU time (user + system of that process, imports included, loading results.json
excluded) of each phase:

    python benchmarks/bench_report.py                       # standard workload at 70k rows
    python benchmarks/bench_report.py --results r/results.json --repeat 5
    python benchmarks/bench_report.py --code /tmp/old-checkout   # the same, with another checkout's audit/

Targets (issue 17): HTML <= 1 s CPU, PDF <= 3 s CPU. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# One measurement, run in a fresh interpreter: prints {"html_s", "pdf_s", "pages", "pdf_bytes", "html_bytes"}.
_CHILD = r"""
import io, json, sys, time
from pathlib import Path
results = Path(sys.argv[1])
from audit.results import AuditResult
result = AuditResult.model_validate_json(results.read_text())
t0 = time.process_time()
from audit.report.html import render_html
html = render_html(result)
t1 = time.process_time()
from audit.report.pdf import render_pdf
files = {"results.json": results.read_text()}
if result.policy_text:
    files["policy.yaml"] = result.policy_text
try:
    pdf = render_pdf(html, attachments=files)
except TypeError:  # a toolkit version whose PDF carries no attachments
    pdf = render_pdf(html)
t2 = time.process_time()
from pypdf import PdfReader
pages = len(PdfReader(io.BytesIO(pdf)).pages)
print(json.dumps({"html_s": t1 - t0, "pdf_s": t2 - t1, "pages": pages, "pdf_bytes": len(pdf),
                  "html_bytes": len(html.encode())}))
"""


def standard_results(folder: Path, size: int = 70000) -> Path:
    """Audit the standard workload (without a PDF) and return its results.json."""
    sys.path.insert(0, str(HERE))
    import bench_workload as bw

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    n_train, n_test = size * 5 // 7, size * 2 // 7
    subprocess.run([sys.executable, str(bw.BENCH / "make_workload.py"), "--n-train", str(n_train), "--n-test",
                    str(n_test), "--out", str(folder)], check=True, env=env, capture_output=True)
    tag = f"n{n_train + n_test}"
    train, test = folder / f"train_{tag}.parquet", folder / f"test_{tag}.parquet"
    bw._train(train, folder / "model.skops")
    # Trust to load a pickle or an unlisted skops type comes from the command line, never the policy.
    policy = folder / "policy.yaml"
    policy.write_text(bw.POLICY.format(test=test, train=train).replace(", trust: true", ""))
    out = folder / "reports"
    proc = subprocess.run([sys.executable, "-m", "audit", "run", str(policy), "--out", str(out), "--quiet",
                           "--no-pdf", "--trust-model"], env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr)
    return next(out.glob("*/results.json"))


def measure(results: Path, code: Path, repeat: int) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(code)}
    runs = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(results)], env=env, capture_output=True,
                              text=True, cwd=code)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-2000:])
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, help="a results.json (default: audit the standard workload)")
    ap.add_argument("--size", type=int, default=70000, help="rows of the standard workload (default 70000)")
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose audit/ renders (default: this one)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = args.results or standard_results(Path(tmp), args.size)
        runs = measure(results, args.code.resolve(), args.repeat)
        checks = len(json.loads(results.read_text())["results"])
    print(f"report of {results.name}: {checks} checks; code {args.code}; {args.repeat} runs, CPU seconds "
          "(imports included)")
    for key, label in (("html_s", "HTML"), ("pdf_s", "PDF")):
        vals = [r[key] for r in runs]
        print(f"  {label:<5} min {min(vals):6.2f}  median {statistics.median(vals):6.2f}  max {max(vals):6.2f}")
    last = runs[-1]
    print(f"  PDF {last['pages']} pages, {last['pdf_bytes'] / 1e6:.2f} MB; HTML {last['html_bytes'] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
