"""The ``audit`` command line.

Exit codes: 0 every blocking check passed; 1 a blocking check failed (or
errored, or was inconclusive where the policy says that fails); 2 the inputs
were wrong and nothing was audited. Heavy libraries are imported inside the
commands so ``audit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]

EPILOG = """\
exit codes: 0 all blocking checks pass, 1 a blocking check failed, 2 bad inputs (nothing audited)

examples:
  audit demo                                   bundled data, model and policy; report under reports/
  audit run policies/credit-scoring.yaml       model and data named in the policy
  audit run policy.yaml --model m.skops --data holdout.parquet --out reports/
  audit run policy.yaml --baseline reports/last/results.json      regression audit
  audit compare old/results.json new/results.json
  audit history reports/
  audit checks                                 every check id with its parameters
  audit schema > policy.schema.json            JSON Schema of the policy format
  audit validate --schema-only policies/*.yaml   check policies without the data (pre-commit)
"""


def _repo_policies() -> Path:
    return Path(__file__).resolve().parent.parent / "policies"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="audit", description="Audit a machine-learning model for robustness and fairness against a "
        "policy file; write HTML, PDF, JSON and JUnit reports.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="store_true", help="print the toolkit version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the checks of a policy and write a report",
                         description="Run every check the policy names; write one report folder "
                         "(results.json, report.html, report.pdf, junit.xml) under --out.")
    run.add_argument("policy", help="policy file (YAML)")
    _add_run_options(run)
    run.add_argument("--model", action="append", metavar="PATH",
                     help="model file (.skops; .joblib/.pkl need --trust-model); overrides the policy. "
                     "Repeat to compare candidate models side by side")
    run.add_argument("--data", help="held-out data: a CSV or Parquet file, or a folder or glob of them; "
                     "overrides the policy")
    run.add_argument("--reference", help="reference/training data (CSV or Parquet); overrides the policy")
    run.add_argument("--trust-model", action="store_true",
                     help="allow pickle/joblib model files (they run code when loaded)")
    run.add_argument("--baseline", help="results.json (or report folder) of an earlier run: regression audit")

    demo = sub.add_parser("demo", help="audit the bundled demo (synthetic credit data, no files needed)",
                          description="Make a seeded synthetic credit-scoring dataset with a deliberate "
                          "group disparity, train a scikit-learn model, and audit it with policies/demo.yaml.")
    _add_run_options(demo)
    demo.add_argument("--work", default="demo-work", help="folder for the demo data and model (default: %(default)s)")
    demo.add_argument("--strict", action="store_true",
                      help="exit 1 when a blocking check fails, as `audit run` does (the demo fails on purpose)")
    demo.add_argument("--torch", action="store_true",
                      help="audit the second demo: a PyTorch network on scikit-learn's digits (needs the torch extra)")

    ch = sub.add_parser("checks", help="list every check id with its parameters")
    ch.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("schema", help="print the JSON Schema of the policy format")
    val = sub.add_parser("validate", help="validate policy files without running them",
                         description="Validate each policy (its baselines merged): one line per problem, "
                         "FILE:LINE: KEY: MESSAGE on stderr; exit 2 if any file is invalid. "
                         "Suited to pre-commit (see .pre-commit-hooks.yaml).")
    val.add_argument("policy", nargs="+", help="policy files (YAML)")
    val.add_argument("--schema-only", action="store_true",
                     help="do not require the model, data and reference files to exist "
                     "(a repository without the data)")
    val.add_argument("--show-effective", action="store_true",
                     help="print each policy as it runs (baselines merged) as YAML on stdout")
    val.add_argument("--format", choices=["text", "json"], default="text",
                     help="json: print one object per file, {policy, valid, problems: [{path, line, message}]}, "
                     "as a JSON list on stdout")

    cmp = sub.add_parser("compare", help="compare two runs; exit 1 on a regression")
    cmp.add_argument("before", help="results.json (or report folder) of the earlier run")
    cmp.add_argument("after", help="results.json (or report folder) of the later run")
    cmp.add_argument("--out", default=None, help="folder for compare.html / compare.pdf (optional)")
    cmp.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    cmp.add_argument("--format", choices=["text", "json"], default="text",
                     help="json: print the comparison as one JSON object on stdout")

    hist = sub.add_parser("history", help="trend report over every run in a reports folder")
    hist.add_argument("reports", help="folder holding report folders (each with results.json)")
    hist.add_argument("--out", default=None, help="where to write history.html (default: the reports folder)")
    hist.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    return p


def _add_run_options(sp) -> None:
    from audit.publish import add_output_options

    add_output_options(sp)
    sp.add_argument("--out", default="reports", help="folder for report folders (default: %(default)s)")
    sp.add_argument("--seed", type=int, default=None, help="override the policy's seed")
    sp.add_argument("--no-pdf", action="store_true", help="skip the PDF (faster)")
    sp.add_argument("--model-card", action="store_true",
                    help="also write model_card.md and model_card.json into the report folder")
    sp.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    ex = sp.add_argument_group("scaling (default: the policy's execution block, else in memory)")
    ex.add_argument("--executor", choices=["memory", "local", "dask"], default=None,
                    help="memory: the whole table as one partition (default); local: partitions on this machine's cores; "
                    "dask: stream it on a Dask cluster")
    ex.add_argument("--dask-address", metavar="URL", default=None,
                    help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask); "
                    "without it, dask starts a LocalCluster sized to this machine")
    ex.add_argument("--workers", type=int, default=None, help="threads (local) or LocalCluster workers (dask)")
    ex.add_argument("--partition-rows", type=int, default=None, metavar="N", help="rows per partition")
    ex.add_argument("--sample-rows", type=int, default=None, metavar="N",
                    help="rows of the stratified sample for checks that need rows on one machine")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``audit`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from audit import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from audit.errors import ExecutionError, InputError

    try:
        return _COMMANDS[args.command](args)
    except (InputError, ExecutionError) as exc:
        print(f"audit: error: {exc}", file=sys.stderr)
        return 2


def _quiet_libraries() -> None:
    # Known, harmless notices from the dependency stack that would confuse a user.
    import logging
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for name in ("alibi_detect", "art", "fontTools", "weasyprint", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*PyTorch.*not found.*")
    warnings.filterwarnings("ignore", message=".*TensorFlow.*not found.*")
    warnings.filterwarnings("ignore", message=".*HarfBuzz.*")


def _finish(results, args, lenient: bool = False) -> int:
    """Write one report per audited model (plus a side-by-side one for several), then publish
    them (Markdown summary, MLflow, JSON); the worst exit code (0 when ``lenient``, the demo)."""
    from rich.console import Console

    from audit.publish import publish
    from audit.report.console import print_summary
    from audit.report.writer import write_report

    console = Console()
    text = args.format != "json"  # with json, stdout carries the JSON object only
    folders, side = [], None
    for result in results:
        folder = write_report(result, args.out, pdf=not args.no_pdf, model_card=args.model_card)
        folders.append(folder)
        if text and not args.quiet:
            print_summary(result, console=console)
            console.print(f"report: [bold]{folder}[/bold]")
        elif text:
            print(folder)
    if len(results) > 1:
        from audit.report.trends import write_models_report

        side = write_models_report(results, args.out, pdf=not args.no_pdf)
        if text:
            print(f"side-by-side report: {side}")
    code = max(r.summary.exit_code for r in results)
    return publish(results, folders, args, exit_code=0 if lenient else code, side_by_side=side)


def _cmd_run(args) -> int:
    from audit.api import run_models
    from audit.publish import preflight
    from audit.trust import trust_granted

    preflight(args)
    _quiet_libraries()
    results = run_models(args.policy, list(args.model or ()), data=args.data, reference=args.reference,
                         seed=args.seed, trust_model=trust_granted(args.trust_model), baseline=args.baseline,
                         progress=not (args.quiet or args.format == "json"), **_scaling(args))
    return _finish(results, args)


def _scaling(args) -> dict:
    return {"executor": args.executor, "dask_address": args.dask_address, "workers": args.workers,
            "partition_rows": args.partition_rows, "sample_rows": args.sample_rows}


def _cmd_demo(args) -> int:
    from audit.api import run_models
    from audit.publish import preflight

    preflight(args)
    _quiet_libraries()
    quiet = args.quiet or args.format == "json"
    work = Path(args.work)
    if args.torch:
        from audit.data.digits_demo import write_digits_demo

        # The digits demo writes its own policy beside its data (model: an entry point that
        # retrains the seeded network, so no pickle is loaded).
        paths = write_digits_demo(work, seed=0 if args.seed is None else args.seed)
        policy = paths["policy"]
        models, data, reference = [], None, None
    else:
        from audit.data.demo import write_demo

        paths = write_demo(work, seed=0 if args.seed is None else args.seed)
        policy = _repo_policies() / "demo.yaml"
        models, data, reference = [str(paths["model"])], str(paths["holdout"]), str(paths["train"])
    if not quiet:
        print(f"demo data and model written to {work}/; auditing with {policy}")
    results = run_models(policy, models, data=data, reference=reference, seed=args.seed,
                         progress=not quiet, **_scaling(args))
    code = max(r.summary.exit_code for r in results)
    published = _finish(results, args, lenient=not args.strict)
    if code and not args.strict and published == 0:
        if not quiet:
            print("The demo fails some checks on purpose (its data has a built-in disparity); "
                  "`audit run` would exit 1 here. Use --strict to get that exit code.")
        return 0
    return published


def _cmd_checks(args) -> int:
    import json

    from audit.checks import all_checks

    checks = all_checks()
    if args.json:
        print(json.dumps({cid: {"description": s.description, "family": s.family, "needs": sorted(s.needs),
                                "tasks": sorted(s.tasks), "default_evalset": s.default_evalset,
                                "params": s.params.model_json_schema()}
                          for cid, s in checks.items()}, indent=2))
        return 0
    from rich.console import Console
    from rich.text import Text

    # One block per check (not a table), so it reads at any terminal width.
    console = Console(highlight=False)
    console.print(Text(f"{len(checks)} registered checks; use an id in a policy's checks list.\n", style="bold"))
    family = None
    for cid, s in checks.items():
        if s.family != family:
            family = s.family
            console.print(Text(family, style="bold underline"))
        params = [f"{name}={'required' if f.is_required() else repr(f.default)}"
                  for name, f in s.params.model_fields.items()]
        line = Text("  ")
        line.append(cid, style="bold cyan")
        line.append(f"  {s.description}")
        console.print(line)
        console.print(Text(f"      params: {', '.join(params) or '-'}   needs: {', '.join(sorted(s.needs))}",
                           style="dim"))
    return 0


def _cmd_schema(args) -> int:
    import json

    from audit.policy import policy_json_schema

    print(json.dumps(policy_json_schema(), indent=2))
    return 0


def _cmd_validate(args) -> int:
    from datetime import date

    from audit.errors import PolicyError
    from audit.policy import effective_yaml, review_overdue, validate_policy

    as_json = args.format == "json"
    # With --show-effective (or --format json) stdout carries only YAML (JSON); status goes to stderr.
    status = sys.stderr if args.show_effective or as_json else sys.stdout
    bad, report = 0, []
    for i, file in enumerate(args.policy):
        try:
            checked = validate_policy(file, check_files=not args.schema_only)
        except PolicyError as exc:
            bad += 1
            report.append({"valid": False, "policy": file, "problems": [
                {"path": p.path, "line": p.line, "file": p.file or exc.file, "message": p.message}
                for p in exc.problems]})
            for p in exc.problems:
                where = p.file or exc.file
                where += f":{p.line}" if p.line is not None else ""
                print(f"{where}: {p.path or '<policy>'}: {p.message}", file=sys.stderr)
            continue
        prov, doc = checked.provenance, checked.document
        bases = f", extends {', '.join(f.name for f in prov.files[:-1])}" if prov.inherited else ""
        what = "baseline" if checked.is_baseline else "policy"
        n = len(doc.get("checks") or [])
        report.append({"valid": True, "policy": file, "name": doc.get("name"), "checks": n, "problems": []})
        print(f"{file}: valid ({what} {doc.get('name')!r}, {n} checks{bases})", file=status)
        if checked.loaded is not None and review_overdue(checked.loaded.policy, date.today()):
            print(f"{file}: note: review_by {checked.loaded.policy.review_by.isoformat()} has passed; "
                  "the policy is due for review", file=status)
        if args.show_effective and not as_json:
            print(("---\n" if i else "") + effective_yaml(doc, prov), end="")
    if as_json:
        from audit.publish import print_json

        # One file: one object; several: a list of them.
        for r in report:
            r["exit_code"] = 0 if r["valid"] else 2
        print_json(report[0] if len(report) == 1 else report)
    return 2 if bad else 0


def _cmd_compare(args) -> int:
    from audit.compare import compare_runs, load_results
    from audit.report.trends import print_comparison, write_comparison

    a, b = load_results(args.before), load_results(args.after)
    cmp = compare_runs(a, b)
    code = 1 if cmp["regressions"] else 0
    if args.format == "json":
        from audit.publish import print_json

        report = write_comparison(cmp, args.out, pdf=not args.no_pdf) if args.out else None
        print_json({"exit_code": code, **cmp, "report": str(report) if report else None})
        return code
    print_comparison(cmp)
    if args.out:
        print(f"report: {write_comparison(cmp, args.out, pdf=not args.no_pdf)}")
    return code


def _cmd_history(args) -> int:
    from audit.report.trends import collect_history, write_history

    hist = collect_history(args.reports)
    path = write_history(hist, args.out or args.reports, pdf=not args.no_pdf)
    print(f"{len(hist['runs'])} runs, {len(hist['series'])} metrics; report: {path}")
    return 0


_COMMANDS = {"run": _cmd_run, "demo": _cmd_demo, "checks": _cmd_checks, "schema": _cmd_schema,
             "validate": _cmd_validate, "compare": _cmd_compare, "history": _cmd_history}
