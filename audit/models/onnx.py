"""ONNX models through onnxruntime (CPU), behind the scikit-learn-like interface the audit uses.

An ``.onnx`` file is a computation graph, not code: onnxruntime runs it without
executing anything from the file (no custom-op libraries are registered), so it
loads without ``--trust-model``, like skops.

Inputs are built from a DataFrame in one of two ways, chosen from the model's
declared inputs:

- **one input per column** (what skl2onnx makes from ``initial_types`` such as
  ``[("age", FloatTensorType([None, 1])), ("sex", StringTensorType([None, 1]))]``):
  every input name must be a column of the data;
- **one tensor** (a model with a single input, e.g. ``float_input`` of shape
  ``[None, d]`` or an exported torch network): the columns, in the data's order
  or :attr:`OnnxOptions.columns`, stacked into one matrix.

Each input gets the element type it declares: ``float`` → float32, ``double`` →
float64, ``int64``/``int32`` (non-integer values are rounded: the input cannot
hold them; a missing value is an error), ``string`` (a missing value becomes the
empty string, which a one-hot encoder treats as an unknown category, as
scikit-learn's ``handle_unknown="ignore"`` treats NaN), ``bool``.

Outputs are mapped by name (:class:`OnnxOptions`), with defaults for skl2onnx
classifiers: ``output_label`` and ``output_probability``, the latter either a
tensor or skl2onnx's ZipMap (a list of ``{class: probability}`` dicts). A model
whose single output holds logits (``scores: logits``) gets a softmax (a sigmoid
for one logit column).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audit.errors import ModelLoadError
from audit.extras import import_extra

__all__ = ["OnnxOptions", "OnnxModel", "OnnxClassifier", "load_onnx"]

LABEL_NAMES = ("output_label", "label", "labels")
PROBA_NAMES = ("output_probability", "probabilities", "probability", "output_probabilities")
# Attributes where ONNX-ML classifier operators keep their class labels, in the order of
# their probability columns.
_CLASS_ATTRS = ("classlabels_int64s", "classlabels_ints", "classlabels_strings")
_CLASSIFIER_OPS = ("ZipMap", "LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier")
_PROBA_TOL = 1e-3  # float32 rows of probabilities sum to 1 within ~1e-6; leave room for ZipMap


class OnnxOptions(BaseModel):
    """How to read an ONNX model's inputs and outputs (policy key ``model.onnx``).

    Attributes
    ----------
    label_output : str, optional
        Output holding predicted labels (classifiers) or values (regressors).
        Default: ``output_label`` or ``label`` when present, else the only output.
    proba_output : str, optional
        Output holding class probabilities: a tensor (n, k) or a ZipMap sequence of
        maps. Default: ``output_probability`` or ``probabilities`` when present, else
        the other output of a two-output model whose label output was found.
    scores : {"probabilities", "logits"}
        What the probability output holds; logits get a softmax (sigmoid for one column).
    classes : list, optional
        Class label of each probability column; default read from the graph
        (ZipMap or classifier node), else ``0..k-1``.
    columns : list of str, optional
        Columns stacked, in this order, into a single-tensor input; default the data's columns.
    threads : int, optional
        onnxruntime intra-op threads; default onnxruntime's own (one per physical core).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label_output: str | None = None
    proba_output: str | None = None
    scores: Literal["probabilities", "logits"] = "probabilities"
    classes: list[int | str] | None = None
    columns: list[str] | None = Field(None, min_length=1)
    threads: int | None = Field(None, ge=1, le=256)


_DTYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(string)": object, "tensor(bool)": np.bool_,
}


class OnnxModel:
    """An ONNX model with ``predict``: a regressor, or a classifier without probabilities.

    Picklable: the pickle holds the model bytes and options and re-creates the
    onnxruntime session when unpickled (what the cold-start profile and Dask workers need).

    Parameters
    ----------
    model : bytes
        The serialized ONNX model (the file's content).
    options : OnnxOptions
        Output names, score kind, classes, input columns, threads.
    source : str
        Where the bytes came from, for messages.
    """

    def __init__(self, model: bytes, options: OnnxOptions | None = None, source: str = "<bytes>"):
        self._bytes = bytes(model)
        self.options = options or OnnxOptions()
        self.source = source
        self._open()

    # -- set-up --------------------------------------------------------------------------------
    def _open(self) -> None:
        ort = import_extra("onnxruntime", "onnx", "loading .onnx models")
        so = ort.SessionOptions()
        if self.options.threads:
            so.intra_op_num_threads = self.options.threads
        try:
            self._session = ort.InferenceSession(self._bytes, sess_options=so,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
            raise ModelLoadError(f"{self.source}: onnxruntime cannot load the model: {exc}") from None
        self.inputs = [(i.name, i.type, list(i.shape)) for i in self._session.get_inputs()]
        self.outputs = [(o.name, o.type, list(o.shape)) for o in self._session.get_outputs()]
        for name, typ, _ in self.inputs:
            if typ not in _DTYPES:
                raise ModelLoadError(f"{self.source}: input {name!r} has type {typ}; supported input "
                                     f"types: {sorted(_DTYPES)}")
        self.label_output, self.proba_output = _pick_outputs(self.outputs, self.options, self.source)
        self._classes = (np.asarray(self.options.classes) if self.options.classes is not None
                         else _graph_classes(self._bytes))
        if self._classes is None and self.proba_output is not None:
            k = _static_width(self._output(self.proba_output))
            if k:
                self._classes = np.arange(2 if (k == 1 and self.options.scores == "logits") else k)

    def __getstate__(self) -> dict:
        return {"model": self._bytes, "options": self.options.model_dump(), "source": self.source}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["model"], OnnxOptions(**state["options"]), state["source"])

    def _output(self, name: str) -> tuple:
        return next(o for o in self.outputs if o[0] == name)

    # -- inputs --------------------------------------------------------------------------------
    def feeds(self, X) -> dict[str, np.ndarray]:
        """The input dict for ``session.run``: one array per model input, typed as it declares."""
        names = [n for n, _, _ in self.inputs]
        if isinstance(X, pd.DataFrame):
            cols = [str(c) for c in X.columns]
            # A single input wider than one column is a matrix even if a column shares its name.
            wide = len(names) == 1 and _static_width(self.inputs[0]) not in (1, None)
            if self.options.columns is None and not wide and all(n in cols for n in names):
                return {n: self._column(X[n], n, t, s) for n, t, s in self.inputs}
            if len(names) == 1:
                use = self.options.columns or cols
                missing = [c for c in use if c not in cols]
                if missing:
                    raise ValueError(f"{self.source}: columns {missing} (model.onnx.columns) are not in "
                                     f"the data; its columns: {cols}")
                return {names[0]: self._matrix(X[use], names[0], *self.inputs[0][1:])}
            missing = [n for n in names if n not in cols]
            raise ValueError(f"{self.source}: the model takes one input per column, {names}; the data "
                             f"has no column {missing} (its columns: {cols})")
        arr = np.asarray(X)
        if len(names) == 1:
            return {names[0]: self._matrix(arr, names[0], *self.inputs[0][1:])}
        if arr.ndim == 2 and arr.shape[1] == len(names):
            return {n: self._column(pd.Series(arr[:, j]), n, t, s) for j, (n, t, s) in enumerate(self.inputs)}
        raise ValueError(f"{self.source}: the model takes {len(names)} inputs {names}; got an array of "
                         f"shape {arr.shape} (pass a DataFrame with those columns)")

    def _column(self, col: pd.Series, name: str, typ: str, shape: list) -> np.ndarray:
        values = _convert(col.to_numpy(), typ, f"column {name!r}", self.source)
        return values.reshape(-1, 1) if len(shape) != 1 else values

    def _matrix(self, X, name: str, typ: str, shape: list) -> np.ndarray:
        width = _static_width((name, typ, shape))
        frame = X if isinstance(X, pd.DataFrame) else None
        arr = X.to_numpy() if frame is not None else np.asarray(X)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if width is not None and len(shape) == 2 and arr.shape[1] != width:
            raise ValueError(f"{self.source}: input {name!r} takes {width} columns per row; got "
                             f"{arr.shape[1]}" + (f" ({list(frame.columns)})" if frame is not None else "")
                             + "; choose them with model.onnx.columns")
        if typ != "tensor(string)" and arr.dtype == object and frame is not None:
            text = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
                    or isinstance(frame[c].dtype, pd.CategoricalDtype)]
            if text:
                raise ValueError(f"{self.source}: input {name!r} is one {typ} tensor, but columns {text} "
                                 "hold text; convert the model with one input per column (skl2onnx "
                                 "initial_types) or pick numeric columns with model.onnx.columns")
        return _convert(arr, typ, f"input {name!r}", self.source)

    # -- outputs -------------------------------------------------------------------------------
    def _run(self, X, names: list[str]) -> list:
        if len(X) == 0:
            raise ValueError(f"{self.source}: no rows to predict")
        return self._session.run(names, self.feeds(X))

    def predict(self, X) -> np.ndarray:
        """Predicted labels (classifiers) or values (regressors)."""
        if self.label_output is not None:
            out = np.asarray(self._run(X, [self.label_output])[0])
            return out.reshape(len(out)) if out.ndim == 2 and out.shape[1] == 1 else out
        proba = self._proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def _proba(self, X) -> np.ndarray:
        raw = self._run(X, [self.proba_output])[0]
        if isinstance(raw, list):  # ZipMap: one {class: probability} dict per row
            if self._classes is None:
                self._classes = np.asarray(sorted(raw[0])) if raw else None
            keys = self._classes.tolist()
            p = np.array([[row[c] for c in keys] for row in raw], dtype=np.float64)
        else:
            p = np.asarray(raw, dtype=np.float64)
            if p.ndim == 1:
                p = p.reshape(-1, 1)
            if self.options.scores == "logits":
                p = _softmax(p)
            if self._classes is None:
                self._classes = np.arange(p.shape[1])
        if p.shape[1] != len(self._classes):
            raise ValueError(f"{self.source}: output {self.proba_output!r} has {p.shape[1]} columns but "
                             f"{len(self._classes)} classes are known ({self._classes.tolist()})")
        _check_probabilities(p, self.proba_output, self.source)
        return p

    @property
    def classes_(self) -> np.ndarray | None:
        """Class labels of the probability columns (None for a regressor, or until the first
        prediction when neither the graph nor the options name them)."""
        return self._classes


class OnnxClassifier(OnnxModel):
    """An ONNX classifier with probabilities: ``predict``, ``predict_proba`` and ``classes_``."""

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, float64, columns in ``classes_`` order."""
        return self._proba(X)


def load_onnx(path: str | Path, options: OnnxOptions | dict | None = None) -> OnnxModel:
    """Load an ``.onnx`` file: an :class:`OnnxClassifier` when it has a probability output,
    else an :class:`OnnxModel`.

    Raises
    ------
    MissingExtraError
        onnxruntime is not installed (``pip install 'audit[onnx]'``).
    ModelLoadError
        The file cannot be read or parsed, or an output named in ``options`` does not exist.
    """
    try:
        opts = options if isinstance(options, OnnxOptions) else OnnxOptions.model_validate(options or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'onnx'}: {e['msg']} (found {e.get('input')!r})"
                             for e in exc.errors())
        raise ModelLoadError(f"{path}: bad ONNX options: {problems}; the options are "
                             f"{sorted(OnnxOptions.model_fields)}") from None
    path = Path(path)
    import_extra("onnxruntime", "onnx", "loading .onnx models")  # before reading a large file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read the ONNX file: {exc}") from None
    model = OnnxModel(data, opts, str(path))
    if model.proba_output is not None:
        model.__class__ = OnnxClassifier  # same state; the class only adds predict_proba
    return model


def _pick_outputs(outputs: list, opts: OnnxOptions, source: str) -> tuple[str | None, str | None]:
    names = [o[0] for o in outputs]
    for key in ("label_output", "proba_output"):
        given = getattr(opts, key)
        if given is not None and given not in names:
            raise ModelLoadError(f"{source}: model.onnx.{key} names output {given!r}, which the model "
                                 f"does not have; its outputs: {names}")
    label = opts.label_output or next((n for n in LABEL_NAMES if n in names), None)
    proba = opts.proba_output or next((n for n in PROBA_NAMES if n in names), None)
    if label is None and proba is None and len(names) == 1:
        if opts.scores == "logits":
            proba = names[0]
        else:
            label = names[0]
    elif proba is None and label is not None and len(names) == 2 and opts.label_output is None:
        other = next(n for n in names if n != label)
        otype = next(o[1] for o in outputs if o[0] == other)
        if otype.startswith("seq(map") or otype in ("tensor(float)", "tensor(double)"):
            proba = other
    if label is None and proba is None:
        raise ModelLoadError(f"{source}: cannot tell which output holds the predictions among {names}; "
                             "name it with model.onnx.label_output or model.onnx.proba_output")
    if opts.scores == "logits" and proba is None:
        raise ModelLoadError(f"{source}: scores: logits needs a logits output; name it with "
                             f"model.onnx.proba_output (outputs: {names})")
    return label, proba


def _graph_classes(data: bytes) -> np.ndarray | None:
    """Class labels stored in the graph by ONNX-ML classifiers (needs the ``onnx`` package)."""
    try:
        import onnx
    except ImportError:  # onnxruntime alone cannot read node attributes: fall back to 0..k-1
        return None
    try:
        graph = onnx.load_model_from_string(data).graph
    except Exception:  # noqa: BLE001 - onnxruntime already accepted the model; only the labels are lost
        return None
    nodes = sorted((n for n in graph.node if n.op_type in _CLASSIFIER_OPS),
                   key=lambda n: n.op_type != "ZipMap")  # ZipMap's labels are the output's order
    for node in nodes:
        for attr in node.attribute:
            if attr.name in _CLASS_ATTRS:
                vals = list(attr.ints) if attr.ints else [s.decode("utf-8") for s in attr.strings]
                if vals:
                    return np.asarray(vals)
    return None


def _static_width(io: tuple) -> int | None:
    shape = io[2]
    if len(shape) == 2 and isinstance(shape[1], int):
        return shape[1]
    return None


def _convert(values: np.ndarray, typ: str, what: str, source: str) -> np.ndarray:
    dtype = _DTYPES[typ]
    if dtype is object:
        out = np.asarray(values, dtype=object)
        missing = pd.isna(out)
        out = out.astype(str).astype(object)
        out[missing] = ""
        return out
    if np.issubdtype(dtype, np.integer):
        try:
            f = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: {what} feeds an integer input ({typ}) but holds non-numbers") from None
        if np.isnan(f).any():
            raise ValueError(f"{source}: {what} feeds an integer input ({typ}) but has missing values; "
                             "convert the model with a float input to let it impute them")
        return np.rint(f).astype(dtype)
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {what} feeds a {typ} input but holds values that are not numbers") from None


def _softmax(z: np.ndarray) -> np.ndarray:
    if z.shape[1] == 1:  # one logit: the positive class
        p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.column_stack([1.0 - p1, p1])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check_probabilities(p: np.ndarray, name: str | None, source: str) -> None:
    # Logits or scores read as probabilities would give wrong metrics without any error.
    finite = p[np.isfinite(p).all(axis=1)]
    if finite.size == 0:
        return
    sums = finite.sum(axis=1)
    worst = float(np.abs(sums - 1.0).max())
    if worst > _PROBA_TOL or float(finite.min()) < -_PROBA_TOL:
        raise ValueError(f"{source}: output {name!r} does not hold probabilities (row sums up to "
                         f"{_fmt(1 + worst)}, smallest value {_fmt(float(finite.min()))}); if it holds "
                         "logits, set model.onnx.scores: logits")


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v)
