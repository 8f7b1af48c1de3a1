"""The ``audit`` command line.

Exit codes: 0 every blocking check passed; 1 a blocking check failed (or
errored, or was inconclusive where the policy says that fails); 2 the inputs
were wrong and nothing was audited; 3 an internal error (a bug: one line on the
console, the traceback saved to a file). Heavy libraries are imported inside the
commands so ``audit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]

EPILOG = """\
exit codes: 0 all blocking checks pass, 1 a blocking check failed, 2 bad inputs (nothing audited),
  3 internal error (traceback saved to a file)

examples:
  audit demo                                   bundled data, model and policy; report under reports/
  audit run policies/credit-scoring.yaml       model and data named in the policy
  audit run policy.yaml --model m.skops --data holdout.parquet --out reports/
  audit run policy.yaml --baseline reports/last/results.json      regression audit
  audit compare old/results.json new/results.json
  audit history reports/
  audit verify reports/<run>/                  recompute the run digest; exit 1 if anything changed
  audit checks                                 every check id with its parameters
  audit schema > policy.schema.json            JSON Schema of the policy format
  audit schema --results                       JSON Schema of results.json
  audit validate --schema-only policies/*.yaml   check policies without the data (pre-commit)
  audit sample big/ --target y --sensitive sex age --rows 20000 --out audit-set.parquet
"""


def _bundled_policy(name: str) -> Path:
    """A policy shipped with the package (the repository's policies/ folder, packaged in the wheel)."""
    from importlib.resources import files

    return Path(str(files("audit") / "policies" / name))


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
                     help="allow models that run code when loaded: pickle/joblib files, entry points, MLflow "
                     "models, any type in a .skops file (or set AUDIT_TRUST_MODEL=1)")
    run.add_argument("--trust-type", action="append", metavar="NAME", default=[],
                     help="allow one type outside skops' safe list in a .skops model, by the full name the "
                     "refusal prints (e.g. sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor); "
                     "repeatable")
    run.add_argument("--baseline", help="results.json (or report folder) of an earlier run: regression audit")

    demo = sub.add_parser("demo", help="audit the bundled demo (synthetic credit data, no files needed)",
                          description="Make a seeded synthetic credit-scoring dataset with a deliberate "
                          "group disparity, train a scikit-learn model, and audit it with policies/demo.yaml.")
    _add_run_options(demo)
    demo.add_argument("--work", default=None,
                      help="folder for the demo data and model (default: demo-work for seed 0, "
                      "demo-work-seed-N for --seed N; demo-work-digits... with --torch). Files of an "
                      "earlier run with other content are never overwritten")
    demo.add_argument("--strict", action="store_true",
                      help="exit 1 when a blocking check fails, as `audit run` does (the demo fails on purpose)")
    demo.add_argument("--torch", action="store_true",
                      help="audit the second demo: a PyTorch network on scikit-learn's digits (needs the torch extra)")

    ch = sub.add_parser("checks", help="list every check id with its parameters")
    ch.add_argument("--json", action="store_true", help="machine-readable output")
    sch = sub.add_parser("schema", help="print the JSON Schema of the policy format (or of results.json)")
    sch.add_argument("--results", action="store_true",
                     help="print the JSON Schema of results.json instead (shipped as audit/schemas/results.schema.json)")
    ver = sub.add_parser("verify", help="check that a report folder is unchanged since its audit (exit 1 if not)",
                         description="Recompute the run digest from results.json and compare it with the one "
                         "recorded at run time; compare policy.yaml, the PDF's attachments and (when present at "
                         "their recorded paths) the model, data and reference files with their recorded SHA-256; "
                         "check Ed25519 signatures. Exit 0 unchanged, 1 something changed, 2 bad arguments. "
                         "See docs/verify.md.")
    ver.add_argument("report", help="report folder (or its results.json)")
    ver.add_argument("--public-key", action="append", default=[], metavar="PEM",
                     help="Ed25519 public key that must have signed the report (repeatable; needs the sign extra)")
    ver.add_argument("--sign-key", metavar="PEM",
                     help="after a successful verification, sign the report with this Ed25519 private key: "
                     "writes signature-<key id>.json into the folder (password, if any, in AUDIT_SIGN_KEY_PASSWORD)")
    ver.add_argument("--signer", default=None, help="name recorded in the signature (with --sign-key)")
    ver.add_argument("--no-inputs", action="store_true", help="do not re-hash the model and data files")
    ver.add_argument("--format", choices=["text", "json"], default="text",
                     help="json: print the findings as one JSON object on stdout")
    val = sub.add_parser("validate", help="validate policy files without running them",
                         description="Validate each policy (its baselines merged): one line per problem, "
                         "FILE:LINE: KEY: MESSAGE on stderr; exit 2 if any file is invalid. "
                         "Suited to pre-commit (see .pre-commit-hooks.yaml).")
    val.add_argument("policy", nargs="+", help="policy files (YAML)")
    val.add_argument("--schema-only", action="store_true",
                     help="do not require the model, data and reference files to exist "
                     "(a repository without the data)")
    val.add_argument("--data", nargs="?", const="", default=None, metavar="DATA",
                     help="also check every column, group, label and constraint the policy names against "
                     "DATA (a CSV or Parquet file, folder or glob; default: the policy's own data), as "
                     "`audit run` does before any work, without loading the model or running checks")
    val.add_argument("--reference", default=None, metavar="DATA",
                     help="with --data: the reference data to check (default: the policy's)")
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
    _add_sample_parser(sub)
    return p


def _add_sample_parser(sub) -> None:
    smp = sub.add_parser(
        "sample", help="write a stratified evaluation sample of a large table, with sampling weights",
        description="Draw a stratified sample of a large table (strata: label x sensitive-group cells; each "
        "stratum in proportion to its size but at least --floor rows) with the audit's own sample pass, and "
        "write it as Parquet with a sampling-weight column (the inverse inclusion probability N_h / n_h). "
        "Audit it with `data: {weight: sample_weight}` to estimate the whole table's metrics.")
    smp.add_argument("data", nargs="?", help="CSV or Parquet file, or a folder or glob of Parquet files "
                     "(default: the policy's data.path)")
    smp.add_argument("--policy", help="take the data path, target, sensitive and weight columns from a policy")
    smp.add_argument("--out", required=True, help="Parquet file to write")
    smp.add_argument("--rows", type=int, required=True, metavar="N", help="rows wanted (floors may add some)")
    smp.add_argument("--target", help="label column (its classes stratify too)")
    smp.add_argument("--sensitive", nargs="+", default=None, metavar="COL", help="sensitive columns")
    smp.add_argument("--floor", type=int, default=200, metavar="N",
                     help="rows every stratum keeps at least, or all of its rows (default: %(default)s)")
    smp.add_argument("--seed", type=int, default=None, help="seed of the row keys (default: the policy's, else 0)")
    smp.add_argument("--weight", metavar="COL", help="existing weight column: the output weight is it times the "
                     "sampling weight")
    smp.add_argument("--weight-column", default="sample_weight", metavar="NAME",
                     help="name of the weight column written (default: %(default)s)")
    smp.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    ex = smp.add_argument_group("scaling (default: one partition in this process)")
    ex.add_argument("--executor", choices=["memory", "local", "dask"], default="memory")
    ex.add_argument("--dask-address", metavar="URL", default=None, help="Dask scheduler (implies --executor dask)")
    ex.add_argument("--workers", type=int, default=None, help="threads (local) or LocalCluster workers (dask)")
    ex.add_argument("--partition-rows", type=int, default=250_000, metavar="N", help="rows per partition")


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
    """Entry point of the ``audit`` console script; returns the exit code.

    Exit codes: 0 pass, 1 a blocking check failed, 2 bad input (policy, data, model, arguments,
    output folder; nothing audited), 3 an internal error (one line on the console, the traceback
    saved to a file), 130 interrupted, 141 the reader of standard output went away (a closed pipe).
    Called without ``argv`` (the console script, ``python -m audit``) the process ends here,
    without the native libraries' exit-time destructors (see :mod:`audit.terminal`).
    """
    code = _guarded(argv)
    if argv is None:
        from audit.terminal import end_process

        end_process(code)
    return code


def _guarded(argv: list[str] | None) -> int:
    """Run one command with every console write cleaned; map every way out to an exit code."""
    from audit.terminal import SIGPIPE_EXIT, CleanStream, harden_rich, silence_stdout

    harden_rich()
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, CleanStream):
        sys.stdout = CleanStream(sys.stdout)
    if not isinstance(sys.stderr, CleanStream):
        sys.stderr = CleanStream(sys.stderr)
    try:
        try:
            return _dispatch(argv)
        finally:
            # A closed pipe also fails the last flush; that too is the reader's choice to stop.
            sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return SIGPIPE_EXIT
    finally:
        sys.stdout, sys.stderr = saved


def _dispatch(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    if args.version:
        from audit import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from audit.errors import ExecutionError, InputError, IntegrationError

    try:
        return _COMMANDS[args.command](args)
    except (InputError, ExecutionError, IntegrationError) as exc:
        print(f"audit: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except SystemExit as exc:
        if isinstance(exc.__context__, BrokenPipeError):
            # rich turns a closed pipe into SystemExit(1) (Console.on_broken_pipe): a closed pipe.
            raise exc.__context__ from None
        return _internal_error(exc, argv)
    except KeyboardInterrupt:
        print("audit: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BaseException as exc:  # noqa: BLE001 - an internal error: one line, the traceback in a file
        return _internal_error(exc, argv)


def _internal_error(exc: BaseException, argv) -> int:
    from audit.terminal import save_traceback

    path = save_traceback(exc, argv)
    first = (str(exc).strip().splitlines() or [""])[0]
    if len(first) > 200:
        first = first[:197] + "..."
    what = "ran out of memory" if isinstance(exc, MemoryError) else f"{type(exc).__name__}: {first}".rstrip(": ")
    where = f"; the traceback is in {path}" if path is not None else ""
    print(f"audit: internal error (a bug in audit, not in your inputs): {what}{where}", file=sys.stderr)
    return 3


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
    _remove_stale(args.out, results)
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


def _remove_stale(out: str, results) -> None:
    """Remove the temporary folders killed runs left in ``out`` (older than this run), and say so."""
    from audit.report._format import parse_time
    from audit.report.writer import remove_stale_temporaries

    starts = [parse_time(r.manifest.get("started_at")) for r in results]
    starts = [t.timestamp() for t in starts if t is not None]
    if not starts or not Path(out).is_dir():
        return
    removed = remove_stale_temporaries(out, before=min(starts))
    if removed:
        names = ", ".join(p.name for p in removed[:5]) + (", ..." if len(removed) > 5 else "")
        print(f"audit: removed {len(removed)} temporary folder(s) that interrupted runs left in {out}: {names}",
              file=sys.stderr)


def _cmd_run(args) -> int:
    from audit.api import run_models
    from audit.publish import preflight
    from audit.report.writer import check_output_folder
    from audit.trust import trust_granted

    check_output_folder(args.out)  # a bad --out stops the run now, not after the audit
    preflight(args)
    _quiet_libraries()
    results = run_models(args.policy, list(args.model or ()), data=args.data, reference=args.reference,
                         seed=args.seed, trust_model=trust_granted(args.trust_model), baseline=args.baseline,
                         progress=not (args.quiet or args.format == "json"), trust_types=args.trust_type,
                         **_scaling(args))
    return _finish(results, args)


def _scaling(args) -> dict:
    return {"executor": args.executor, "dask_address": args.dask_address, "workers": args.workers,
            "partition_rows": args.partition_rows, "sample_rows": args.sample_rows}


def demo_work_folder(args) -> Path:
    """The demo's work folder: ``--work``, else one per demo and seed (seed 0: ``demo-work``, the
    folder the bundled policies read), so a demo with another seed never replaces earlier inputs."""
    if args.work:
        return Path(args.work)
    seed = 0 if args.seed is None else args.seed
    base = "demo-work-digits" if args.torch else "demo-work"
    return Path(base if seed == 0 else f"{base}-seed-{seed}")


def _cmd_demo(args) -> int:
    from audit.api import run_models
    from audit.publish import preflight
    from audit.report.writer import check_output_folder

    check_output_folder(args.out)
    preflight(args)
    _quiet_libraries()
    quiet = args.quiet or args.format == "json"
    work = demo_work_folder(args)
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
        policy = _bundled_policy("demo.yaml")
        models, data, reference = [str(paths["model"])], str(paths["holdout"]), str(paths["train"])
    if not quiet:
        print(f"demo data and model in {work}/; auditing with {policy}")
    # The torch demo's policy names the toolkit's own entry point, written here by the toolkit:
    # running `audit demo --torch` is the person's consent to import it.
    results = run_models(policy, models, data=data, reference=reference, seed=args.seed,
                         trust_model=bool(args.torch), progress=not quiet, **_scaling(args))
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

    if args.results:
        from audit.results import results_json_schema

        print(json.dumps(results_json_schema(), indent=2))
        return 0
    from audit.policy import policy_json_schema

    print(json.dumps(policy_json_schema(), indent=2))
    return 0


def _cmd_verify(args) -> int:
    from audit.verify import sign_report, verify_report

    v = verify_report(args.report, public_keys=args.public_key, check_inputs=not args.no_inputs)
    signed = None
    if args.sign_key and v.ok:
        signed = sign_report(args.report, args.sign_key, signer=args.signer)
    code = 0 if v.ok else 1
    if args.format == "json":
        from audit.publish import print_json

        print_json({**v.to_json(), "signature_written": str(signed) if signed else None})
        return code
    marks = {"ok": "ok", "changed": "CHANGED", "not checked": "not checked"}
    for f in v.findings:
        print(f"{marks.get(f.status, f.status):>11}  {f.what}: {f.detail}")
    if v.ok:
        print(f"verified: {v.folder} is unchanged (run digest {v.stored_digest})")
    else:
        print(f"verification FAILED: {v.folder} changed since its audit", file=sys.stderr)
        if args.sign_key:
            print("not signed: the report does not verify", file=sys.stderr)
    if signed:
        print(f"signed: {signed}")
    return code


def _cmd_validate(args) -> int:
    from datetime import date

    from audit.errors import InputError, PolicyError
    from audit.policy import effective_yaml, review_overdue, validate_policy

    as_json = args.format == "json"
    # With --show-effective (or --format json) stdout carries only YAML (JSON); status goes to stderr.
    status = sys.stderr if args.show_effective or as_json else sys.stdout
    bad, report = 0, []
    for i, file in enumerate(args.policy):
        try:
            checked = _validate_one(file, args, validate_policy)
        except InputError as exc:
            if not isinstance(exc, PolicyError):  # the data could not be read at all
                from audit.errors import PolicyProblem

                exc = PolicyError(file, [PolicyProblem("data", str(exc))])
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


def _validate_one(file: str, args, validate_policy):
    """One policy validated; with ``--data``, also against the data (schema, then exact counts)."""
    if args.data is None:
        return validate_policy(file, check_files=not args.schema_only)
    from audit.input_checks import data_check
    from audit.inputs import prepare_inputs
    from audit.progress import progress
    from audit.scale import make_executor

    data, reference = args.data or None, args.reference
    checked = validate_policy(file, data_check=data_check(data, reference), data_override=data,
                              reference_override=reference)
    lp = checked.loaded
    if lp is None:  # a baseline: no data of its own
        return checked
    p = lp.policy
    executor = make_executor("memory")
    # The run's own preparation without a model: schema, sample pass, counts, constraints.
    prepare_inputs(lp, data=data or lp.resolve(p.data.path),
                   reference=reference or lp.resolve(p.data.reference), executor=executor,
                   partition_rows=None, sample_rows=p.execution.sample_rows, seed=p.seed, models=[],
                   progress=progress(False))
    return checked


def _cmd_compare(args) -> int:
    from audit.compare import compare_runs, load_results
    from audit.report.trends import print_comparison, write_comparison

    if args.out:
        from audit.report.writer import ensure_output_folder

        ensure_output_folder(args.out)
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
    from audit.errors import InputError
    from audit.report.trends import collect_history, write_history
    from audit.report.writer import ensure_output_folder

    if not Path(args.reports).is_dir():
        raise InputError(f"{args.reports}: not a folder of report folders")
    out = ensure_output_folder(args.out or args.reports, "--out" if args.out else "reports folder")
    hist = collect_history(args.reports)
    path = write_history(hist, out, pdf=not args.no_pdf)
    print(f"{len(hist['runs'])} runs, {len(hist['series'])} metrics; report: {path}")
    return 0


def _cmd_sample(args) -> int:
    from audit.errors import InputError
    from audit.sampling import stratified_sample, write_sample
    from audit.scale import make_executor

    data, target, sensitive, weight, seed = args.data, args.target, args.sensitive, args.weight, args.seed
    if args.policy:
        from audit.policy import load_policy

        # The model and reference need not exist to sample the data; a missing data file is named below.
        lp = load_policy(args.policy, data_override=args.data, check_files=False)
        d = lp.policy.data
        data = data or lp.resolve(d.path)
        target = target or d.target
        sensitive = sensitive if sensitive is not None else list(d.sensitive)
        weight = weight or d.weight
        seed = lp.policy.seed if seed is None else seed
    if data is None:
        raise InputError("give the data (a file, folder or glob) or --policy")
    executor = make_executor("dask" if args.dask_address else args.executor, args.dask_address, args.workers)
    try:
        res = stratified_sample(data, sensitive=list(sensitive or []), rows=args.rows, target=target,
                                floor=args.floor, seed=0 if seed is None else seed, weight=weight,
                                weight_column=args.weight_column, executor=executor,
                                partition_rows=None if args.executor == "memory" and not args.dask_address
                                else args.partition_rows)
    finally:
        executor.close()
    out = write_sample(res, args.out, overwrite=args.overwrite)
    print(f"{len(res.frame):,} of {res.rows:,} rows, stratified by {' x '.join(res.stratify_by)} "
          f"({len(res.strata)} strata, floor {args.floor}); weights in column {res.weight_column!r}: {out}")
    print(res.strata.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


_COMMANDS = {"run": _cmd_run, "demo": _cmd_demo, "checks": _cmd_checks, "schema": _cmd_schema,
             "validate": _cmd_validate, "compare": _cmd_compare, "history": _cmd_history, "verify": _cmd_verify,
             "sample": _cmd_sample}
