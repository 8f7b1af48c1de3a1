"""Loading models safely.

skops files are loaded with skops' own allow-list, which executes no code;
ONNX files are graphs run by onnxruntime, which executes no code from them;
pickle and joblib files execute arbitrary code when loaded, so they need an
explicit ``trust`` (``--trust-model``), and so do MLflow models (unpickled, or
code they ship imported). An entry point ``package.module:attr`` is code the
user named, so importing it is the user's explicit choice.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from audit.errors import ModelLoadError, UntrustedModelError
from audit.models._wrap import _is_torch_module, file_sha256, wrap_model
from audit.models.adapter import DEFAULT_BATCH, ModelAdapter

__all__ = ["load_model", "file_sha256", "model_manifest"]

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".jbl"}


def load_model(path: str | Path | None = None, *, entrypoint: str | None = None, trust: bool = False,
               batch_size: int = DEFAULT_BATCH, mlflow: str | None = None,
               onnx: object = None) -> ModelAdapter:
    """Load a model file, entry point or MLflow model behind a :class:`ModelAdapter`.

    Parameters
    ----------
    path : str or Path, optional
        ``.skops`` (safe), ``.onnx`` (safe; needs the onnx extra), or ``.joblib`` /
        ``.pkl`` / ``.pickle`` (needs ``trust``).
    entrypoint : str, optional
        ``package.module:attribute``; a callable without ``predict`` is called to make the model.
    trust : bool
        Allow pickle-based formats and MLflow models (they can run arbitrary code when loaded).
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
        A pickle/joblib file (or a skops file with unknown types) without ``trust``.
    ModelLoadError
        Anything else that stops the model from loading.
    """
    if mlflow is not None:
        from audit.models.mlflow import load_mlflow_model

        return load_mlflow_model(mlflow, trust=trust, batch_size=batch_size)[0]
    if path is not None and Path(path).suffix.lower() == ".onnx":
        return _from_onnx(Path(path), onnx, batch_size)
    if entrypoint is not None:
        est = _from_entrypoint(entrypoint)
        source = entrypoint
    elif path is not None:
        path = Path(path)
        if not path.exists():
            raise ModelLoadError(f"model file not found: {path}")
        est = _from_file(path, trust)
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

    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}")
    est = load_onnx(path, options)
    digest = file_sha256(path)
    adapter = ModelAdapter(est, kind="onnx", source=str(path), batch_size=batch_size)
    adapter.meta.update({"trust": False, "sha256": digest, "manifest": {
        "onnx": {"inputs": [n for n, _, _ in est.inputs], "label_output": est.label_output,
                 "proba_output": est.proba_output}}})
    return adapter


def _from_file(path: Path, trust: bool):
    suffix = path.suffix.lower()
    if suffix == ".skops":
        from audit.models._skops_import import import_skops_io

        sio = import_skops_io()  # without the torch/dask imports of scikit-learn's estimator walk

        try:
            unknown = sio.get_untrusted_types(file=path)
            if unknown and not trust:
                raise UntrustedModelError(
                    f"{path}: the skops file holds types outside skops' safe list: {unknown}. "
                    "Loading them could run their code; pass --trust-model "
                    "if you trust the file's author.")
            return sio.load(path, trusted=unknown or None)
        except UntrustedModelError:
            raise
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


def _from_entrypoint(spec: str):
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise ModelLoadError(f"entry point {spec!r} is not of the form 'package.module:attribute'")
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
