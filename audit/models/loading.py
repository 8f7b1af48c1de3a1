"""Loading models safely.

skops files are loaded with skops' own allow-list, which executes no code; a
skops file holding types outside that list (a HistGradientBoosting model's
``TreePredictor``, say) loads only when the person running the audit trusts
those types by name (``--trust-type NAME``) or trusts the file (``--trust-model``).
ONNX files are graphs run by onnxruntime, which executes no code from them.
Pickle and joblib files execute arbitrary code when loaded, so they need an
explicit ``trust`` (``--trust-model``), and so do MLflow models (unpickled, or
code they ship imported) and entry points ``package.module:attr``: a policy file
may name one, but importing it runs code, so only the person running the audit
allows it. Trust never comes from the policy.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from audit.errors import ModelLoadError, UntrustedModelError
from audit.files import regular_file
from audit.models._wrap import _is_torch_module, file_sha256, wrap_model
from audit.models.adapter import DEFAULT_BATCH, ModelAdapter

__all__ = ["load_model", "file_sha256", "model_manifest"]

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".jbl"}


def load_model(path: str | Path | None = None, *, entrypoint: str | None = None, trust: bool = False,
               batch_size: int = DEFAULT_BATCH, mlflow: str | None = None,
               onnx: object = None, trust_types: tuple[str, ...] | list[str] = ()) -> ModelAdapter:
    """Load a model file, entry point or MLflow model behind a :class:`ModelAdapter`.

    Parameters
    ----------
    path : str or Path, optional
        ``.skops`` (safe), ``.onnx`` (safe; needs the onnx extra), or ``.joblib`` /
        ``.pkl`` / ``.pickle`` (needs ``trust``).
    entrypoint : str, optional
        ``package.module:attribute``; a callable without ``predict`` is called to make the model.
    trust : bool
        Allow pickle-based formats, entry points and MLflow models (they run code when loaded).
    trust_types : sequence of str
        Types a skops file may hold beyond skops' safe list (``--trust-type``), by full name.
    batch_size : int
        Rows per call to the model.
    mlflow : str, optional
        ``models:/<name>/<version>`` or ``runs:/<run id>/<path>`` (needs ``trust`` and the
        mlflow extra); see :func:`audit.models.mlflow.load_mlflow_model`. Its manifest entry
        is ``adapter.meta["manifest"]`` (see :func:`model_manifest`).
    onnx : OnnxOptions or dict, optional
        Output names and input layout of an ``.onnx`` file (:class:`audit.models.onnx.OnnxOptions`).

    Raises
    ------
    UntrustedModelError
        A pickle/joblib file or an entry point without ``trust``; a skops file with types
        outside skops' safe list that neither ``trust`` nor ``trust_types`` allow.
    ModelLoadError
        Anything else that stops the model from loading.
    """
    if mlflow is not None:
        from audit.models.mlflow import load_mlflow_model

        return load_mlflow_model(mlflow, trust=trust, batch_size=batch_size)[0]
    if path is not None and Path(path).suffix.lower() == ".onnx":
        return _from_onnx(Path(path), onnx, batch_size)
    if entrypoint is not None:
        _entrypoint_parts(entrypoint)  # a malformed name is reported as such, with or without trust
        if not trust:
            raise UntrustedModelError(
                f"entry point {entrypoint!r}: importing it runs the Python code it names. A policy may name "
                "an entry point, but only the person running the audit can allow it: pass --trust-model "
                "(or set AUDIT_TRUST_MODEL=1 in the environment) if you trust that code")
        est = _from_entrypoint(entrypoint)
        source = entrypoint
    elif path is not None:
        path = regular_file(path, "model file", ModelLoadError)
        est = _from_file(path, trust, tuple(trust_types))
        source = str(path)
    else:
        raise ModelLoadError("no model given: a file path or an entry point is needed")
    adapter = wrap_model(est, source=source, batch_size=batch_size)
    # The hash at load time: a later reload (cold-start profile) checks it is the same file.
    adapter.meta.update({"trust": trust, "sha256": file_sha256(path) if entrypoint is None else None})
    if entrypoint is not None:
        # An entry point has no model file: its identity is the module file that defines it.
        ident = _entrypoint_identity(entrypoint)
        adapter.meta["sha256"] = ident.pop("sha256", None)
        adapter.meta.setdefault("manifest", {}).update(ident)
    return adapter


def model_manifest(adapter: ModelAdapter) -> dict:
    """What the manifest records of a loaded model (``files.model``).

    ``source``, ``kind`` and ``sha256`` (of the file, or of an MLflow model's files), plus
    what the loader recorded: for MLflow the URI, registered name and version, run id and
    flavor; for ONNX the inputs and outputs read.
    """
    entry = {"source": adapter.source, "kind": adapter.kind, "sha256": (adapter.meta or {}).get("sha256")}
    entry.update((adapter.meta or {}).get("manifest", {}))
    module = _torch_module(adapter.estimator)
    if module is not None:
        from audit.models.torch import weights_sha256

        entry["weights_sha256"] = weights_sha256(module)  # the network as audited, wherever it came from
    return entry


def _torch_module(est):
    if getattr(est, "_audit_torch", False):
        return getattr(est, "module", None)
    return est if _is_torch_module(est) else None


def _entrypoint_identity(spec: str) -> dict:
    """The module file an entry point imports and its SHA-256 (the model's code, as audited)."""
    import sys

    mod = sys.modules.get(spec.partition(":")[0])
    path = getattr(mod, "__file__", None)
    if not path or not Path(path).is_file():
        return {}
    return {"module_file": str(Path(path).resolve()), "sha256": file_sha256(Path(path))}


def _from_onnx(path: Path, options, batch_size: int) -> ModelAdapter:
    from audit.models.onnx import load_onnx

    regular_file(path, "model file", ModelLoadError)
    est = load_onnx(path, options)
    digest = file_sha256(path)
    adapter = ModelAdapter(est, kind="onnx", source=str(path), batch_size=batch_size)
    adapter.meta.update({"trust": False, "sha256": digest, "manifest": {
        "onnx": {"inputs": [n for n, _, _ in est.inputs], "label_output": est.label_output,
                 "proba_output": est.proba_output}}})
    return adapter


def _from_file(path: Path, trust: bool, trust_types: tuple[str, ...] = ()):
    suffix = path.suffix.lower()
    if suffix == ".skops":
        from audit.models._skops_import import import_skops_io

        sio = import_skops_io()  # without the torch/dask imports of scikit-learn's estimator walk

        try:
            unknown = sio.get_untrusted_types(file=path)
        except Exception as exc:
            raise ModelLoadError(f"{path}: cannot read the skops file: {exc}") from exc
        refused = [t for t in unknown if t not in trust_types]
        if refused and not trust:
            flags = " ".join(f"--trust-type {t}" for t in refused)
            raise UntrustedModelError(
                f"{path}: the skops file holds {len(refused)} type(s) outside skops' safe list: {refused}. "
                "Loading a type runs its code; if you trust these types, allow exactly them with "
                f"{flags} (or trust the whole file with --trust-model)")
        try:
            return sio.load(path, trusted=unknown or None)
        except Exception as exc:
            raise ModelLoadError(f"{path}: cannot load the skops file: {exc}") from exc
    if suffix in PICKLE_SUFFIXES:
        if not trust:
            raise UntrustedModelError(
                f"{path}: refusing to load a {suffix} file without --trust-model. Pickle and joblib "
                "files run arbitrary code when loaded; pass --trust-model (or set AUDIT_TRUST_MODEL=1 in the "
                "environment) only for files from a source you trust, or save the model with skops "
                "(skops.io.dump), which loads without running code.")
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:
            raise ModelLoadError(f"{path}: cannot load the {suffix} file: {exc}") from exc
    raise ModelLoadError(f"{path}: unknown model format {suffix!r}; expected .skops, .onnx, or "
                         f"{sorted(PICKLE_SUFFIXES)} with --trust-model, or an entry point 'module:attr'")


def _entrypoint_parts(spec: str) -> tuple[str, str]:
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise ModelLoadError(f"entry point {spec!r} is not of the form 'package.module:attribute'")
    return mod_name, attr


def _from_entrypoint(spec: str):
    mod_name, attr = _entrypoint_parts(spec)
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ModelLoadError(f"entry point {spec!r}: cannot import {mod_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ModelLoadError(f"entry point {spec!r}: {mod_name!r} has no attribute {attr!r}") from None
    if callable(obj) and not hasattr(obj, "predict") and not _is_torch_module(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise ModelLoadError(f"entry point {spec!r}: calling it to make the model failed: {exc}") from exc
    return obj
