"""Run the hostile-input fuzz generators outside pytest and print what happened.

Same generators, seeds and checks as tests/robustness_of_inputs, but every case runs even when
some fail: prints the number of cases, the exit-code distribution, tracebacks, hangs, internal
errors and each failing case with its mutations and the end of its message.

    OMP_NUM_THREADS=1 python scripts/fuzz_report.py [--policies 320] [--datasets 90] [--verbose]

Exit status 0 when no case failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.robustness_of_inputs._datasets import data_cases  # noqa: E402
from tests.robustness_of_inputs._harness import Tally, make_workspace  # noqa: E402
from tests.robustness_of_inputs._policies import policy_cases  # noqa: E402
from tests.robustness_of_inputs.test_fuzz_datasets import run_data_case  # noqa: E402
from tests.robustness_of_inputs.test_fuzz_policies import run_policy_case  # noqa: E402


def _run(strategy, runner, ws, n: int, tally: Tally, verbose: bool) -> None:
    @settings(max_examples=n, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def each(case):
        outcome, found = runner(ws, case)
        label = " + ".join(case.labels)
        tally.add(label, outcome, found)
        if verbose:
            msg = outcome.stderr.strip().splitlines()[-1:] or [""]
            print(f"  exit {outcome.code} {outcome.seconds:5.2f}s {label[:70]} | {msg[0][:120]}")

    each()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", type=int, default=320, help="policy cases (default: %(default)s)")
    ap.add_argument("--datasets", type=int, default=90, help="dataset cases (default: %(default)s)")
    ap.add_argument("--verbose", action="store_true", help="one line per case")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    tallies = {"policies": Tally(), "datasets": Tally()}
    with tempfile.TemporaryDirectory(prefix="audit-fuzz-") as tmp:
        ws = make_workspace(Path(tmp))
        if args.policies:
            _run(policy_cases(), run_policy_case, ws, args.policies, tallies["policies"], args.verbose)
        if args.datasets:
            _run(data_cases(), run_data_case, ws, args.datasets, tallies["datasets"], args.verbose)
    failed = 0
    for name, t in tallies.items():
        if not t.cases:
            continue
        print(t.lines(name)[0])
        for label, found, stderr in t.failures:
            print(f"  FAILED {name}: {label}: {'; '.join(found)}")
            print("    " + stderr.replace("\n", "\n    "))
        failed += len(t.failures)
    print(f"total {sum(t.cases for t in tallies.values())} cases in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
