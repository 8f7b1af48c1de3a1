"""Models from MLflow: ``models:/name/version`` (or ``@alias``, ``/latest``, a logged-model id)
and ``runs:/<run id>/<path>``.

The model's files are downloaded once into a temporary folder, hashed, and
loaded from there, so the hash recorded in the manifest is the hash of exactly
what was audited. A model with MLflow's ``sklearn`` flavor is loaded as the
scikit-learn estimator itself (``predict_proba`` and white-box attacks keep
working); any other model as a generic ``pyfunc`` (``predict`` only).

Loading an MLflow model unpickles it or imports code it ships (``code_paths``,
a custom ``PythonModel``): it runs code from the model's author. Only the person
running the audit can allow that (``--trust-model``); a policy cannot.

Where the tracking and registry servers are comes from MLflow's own
environment variables (``MLFLOW_TRACKING_URI``, ``MLFLOW_REGISTRY_URI``) or the
``tracking_uri`` / ``registry_uri`` arguments.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from audit.errors import ModelLoadError, UntrustedModelError
from audit.extras import import_extra
from audit.models.adapter import DEFAULT_BATCH, ModelAdapter

__all__ = ["MLFLOW_SCHEMES", "load_mlflow_model", "model_files_sha256", "redact_uri", "scrub"]

MLFLOW_SCHEMES = ("models:/", "runs:/")
# Written into a download by MLflow's registry client (the name and version asked for), not part
# of the model: leaving it out gives one hash whichever URI the same model was fetched by.
_NOT_CONTENT = frozenset({"registered_model_meta"})


def load_mlflow_model(uri: str, *, trust: bool = False, batch_size: int = DEFAULT_BATCH,
                      tracking_uri: str | None = None,
                      registry_uri: str | None = None) -> tuple[ModelAdapter, dict]:
    """Download, hash and load an MLflow model behind a :class:`ModelAdapter`.

    Parameters
    ----------
    uri : str
        ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/latest``,
        ``models:/<model id>`` or ``runs:/<run id>/<artifact path>``. A registry alias or
        ``latest`` is resolved to a version first, and that version is what is loaded.
    trust : bool
        Must be True (``--trust-model``): loading runs code from the model.
    batch_size : int
        Rows per call to the model.
    tracking_uri, registry_uri : str, optional
        Default: MLflow's environment variables (``MLFLOW_TRACKING_URI``, ...).

    Returns
    -------
    adapter : ModelAdapter
        Kind ``"sklearn"`` (sklearn flavor) or ``"callable"`` (pyfunc); ``source`` is ``uri``.
    info : dict
        For the manifest's ``files.model``: ``source``, ``kind``, ``sha256`` (of the model's
        files, see :func:`model_files_sha256`), and ``mlflow``: the URI, the resolved
        ``models:/`` or ``runs:/`` URI that was downloaded, registered ``name`` and
        ``version``, ``run_id``, ``model_id``, ``flavor`` loaded, ``flavors`` available,
        the ``mlflow_version`` that saved it, and the tracking/registry URIs (passwords removed).

    Raises
    ------
    UntrustedModelError
        Without ``trust``.
    MissingExtraError
        MLflow is not installed (``pip install 'audit[mlflow]'``).
    ModelLoadError
        A malformed URI, an unknown model, version or run, or a model that fails to load.
    """
    if not isinstance(uri, str) or not uri.startswith(MLFLOW_SCHEMES):
        raise ModelLoadError(f"MLflow model URI {uri!r}: expected 'models:/<name>/<version>' or "
                             "'runs:/<run id>/<path>'")
    if not trust:
        raise UntrustedModelError(
            f"{uri}: refusing to load an MLflow model without --trust-model. Loading it unpickles "
            "the model or imports code it ships, which can run arbitrary code; pass --trust-model on "
            "the command line if you trust the registry and the model's author (a policy file "
            "cannot grant this).")
    mlflow = import_extra("mlflow", "mlflow", "loading models from MLflow")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    info = _resolve(client, uri)
    tmp = Path(tempfile.mkdtemp(prefix="audit-mlflow-"))
    try:
        with _quiet_downloads():
            local = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=info["resolved_uri"], dst_path=str(tmp), tracking_uri=tracking_uri,
                registry_uri=registry_uri))
        est, flavor, mlmodel = _load(mlflow, local, uri)
        digest = model_files_sha256(local)
    except ModelLoadError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:  # MlflowException, OSError, errors of the model's own loader
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelLoadError(f"{uri}: cannot load the MLflow model: {type(exc).__name__}: "
                             f"{scrub(exc)}") from None
    from audit.models._wrap import wrap_model

    adapter = wrap_model(est, source=uri, batch_size=batch_size)
    # A pyfunc may read its files lazily: keep the download until the adapter is gone.
    weakref.finalize(adapter, shutil.rmtree, str(tmp), True)
    info.update({
        "run_id": info.get("run_id") or mlmodel.get("run_id"),
        "model_id": info.get("model_id") or mlmodel.get("model_id"),
        "flavor": flavor,
        "flavors": sorted(mlmodel.get("flavors", {})),
        "mlflow_version": mlmodel.get("mlflow_version"),
        "tracking_uri": redact_uri(mlflow.get_tracking_uri() if tracking_uri is None else tracking_uri),
        "registry_uri": redact_uri(mlflow.get_registry_uri() if registry_uri is None else registry_uri),
    })
    entry = {"source": uri, "kind": adapter.kind, "sha256": digest,
             "sha256_of": "the model's files: sorted relative paths and their SHA-256",
             "mlflow": info}
    adapter.meta.update({"trust": trust, "sha256": digest, "manifest": entry})
    return adapter, entry


def _resolve(client, uri: str) -> dict:
    """The concrete version or run behind ``uri``, and the URI to download it by."""
    from mlflow.exceptions import MlflowException

    info: dict = {"uri": uri, "resolved_uri": uri, "name": None, "version": None, "run_id": None,
                  "model_id": None}
    try:
        if uri.startswith("runs:/"):
            parts = uri[len("runs:/"):].split("/", 1)
            if not parts[0] or len(parts) < 2 or not parts[1]:
                raise ModelLoadError(f"MLflow model URI {uri!r}: expected 'runs:/<run id>/<path>'")
            client.get_run(parts[0])  # a clear "run not found" before any download
            info["run_id"] = parts[0]
            return info
        from mlflow.store.artifact.utils.models import get_model_name_and_version

        found = get_model_name_and_version(client, uri)
        if len(found) == 1:  # models:/<logged model id> (MLflow 3)
            lm = client.get_logged_model(found[0])
            info.update(model_id=found[0], run_id=getattr(lm, "source_run_id", None))
            return info
        name, version = found
        mv = client.get_model_version(name, str(version))
        info.update(name=name, version=str(mv.version), run_id=mv.run_id,
                    model_id=getattr(mv, "model_id", None),
                    resolved_uri=f"models:/{name}/{mv.version}")
        return info
    except MlflowException as exc:
        raise ModelLoadError(f"{uri}: MLflow cannot find the model: {scrub(exc.message)}") from None


def _load(mlflow, local: Path, uri: str):
    """(estimator, flavor loaded, MLmodel as a dict) from a downloaded model folder."""
    from mlflow.models import Model

    if not (local / "MLmodel").is_file():
        raise ModelLoadError(f"{uri}: no MLmodel file in the downloaded artifacts "
                             f"({sorted(p.name for p in local.iterdir())}); is the URI a model's folder?")
    mlmodel = Model.load(str(local)).to_dict()
    flavors = mlmodel.get("flavors", {})
    if "sklearn" in flavors:
        return mlflow.sklearn.load_model(str(local)), "sklearn", mlmodel
    if "python_function" in flavors:
        return mlflow.pyfunc.load_model(str(local)), "python_function", mlmodel
    raise ModelLoadError(f"{uri}: the model has flavors {sorted(flavors)}; the audit loads the "
                         "'sklearn' flavor or, failing that, 'python_function'")


def model_files_sha256(folder: str | Path) -> str:
    """SHA-256 over a model folder: each file's relative POSIX path and SHA-256, in sorted order.

    ``registered_model_meta`` (written by MLflow's registry client at download time)
    is left out, so the same model fetched by ``models:/`` or ``runs:/`` hashes alike.
    """
    from audit.models._wrap import file_sha256

    root = Path(folder)
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _NOT_CONTENT)
    for p in files:
        h.update(p.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(file_sha256(p).encode("ascii") + b"\n")
    return h.hexdigest()


def redact_uri(uri: str | None) -> str | None:
    """``uri`` with any user-info (a user name, password or token before ``@``) replaced by ``***``."""
    if not uri:
        return uri
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def scrub(text: str) -> str:
    """``text`` with the user-info of every URL in it replaced by ``***`` (MLflow's error
    messages repeat the tracking URI, password included)."""
    return _USERINFO.sub(r"\1***@", str(text))


@contextlib.contextmanager
def _quiet_downloads():
    # MLflow draws a progress bar per download; the audit has its own output.
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    old = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
