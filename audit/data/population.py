"""Declared population shares of the sensitive groups (the policy's ``population:``).

``data.representativeness`` compares the evaluation data's group shares with the
shares of the population the model serves. A policy declares them as a mapping
(``{sex: {F: 0.51, M: 0.49}, age_band: {...}}``: marginal shares per column) or
as a CSV file with some sensitive columns and a ``share`` column, one row per
combination of their values (joint shares, from which intersectional groups and
the marginals follow).

Group values are named as the audit names them (``str(value)``), so ``1`` in the
policy matches an integer column's ``1``. Shares are rescaled to sum to exactly
1 (the policy allows rounded shares within ``SHARE_TOLERANCE``). Every problem
is a :class:`~audit.errors.DataError` naming the file or key, what was expected
and what was found (exit code 2, nothing audited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audit.errors import DataError

__all__ = ["Population", "load_population", "check_population", "SHARE_COLUMN", "MISSING_NAME"]

SHARE_COLUMN = "share"
MISSING_NAME = "<missing>"  # how the audit names a missing sensitive value (audit.stats.summaries.MISSING)
TOLERANCE = 0.01  # as audit.policy.schema.SHARE_TOLERANCE


@dataclass(frozen=True)
class Population:
    """Declared shares of the sensitive groups.

    Attributes
    ----------
    source : str
        ``"policy"`` or the CSV file the shares came from.
    marginals : dict
        Column -> {value: share}, each summing to 1.
    joint_columns : tuple of str
        Columns of the joint table (a CSV); empty when only marginals were declared.
    joint : dict
        Combination of ``joint_columns`` values -> share (sums to 1).
    """

    source: str
    marginals: dict[str, dict[str, float]]
    joint_columns: tuple[str, ...] = ()
    joint: dict[tuple[str, ...], float] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.marginals)

    def shares(self, cols: list[str] | tuple[str, ...]) -> dict[tuple[str, ...], float] | None:
        """Declared shares of the groups of ``cols`` (one column: marginal; several: joint, summed
        over the joint table's other columns); None when the declaration cannot give them."""
        cols = tuple(cols)
        if len(cols) == 1 and cols[0] in self.marginals:
            return {(v,): s for v, s in self.marginals[cols[0]].items()}
        if not set(cols) <= set(self.joint_columns):
            return None
        pos = [self.joint_columns.index(c) for c in cols]
        out: dict[tuple[str, ...], float] = {}
        for key, s in self.joint.items():
            sub = tuple(key[j] for j in pos)
            out[sub] = out.get(sub, 0.0) + s
        return out


def _rescaled(shares: dict, what: str) -> dict:
    total = float(sum(shares.values()))
    if total <= 0 or abs(total - 1.0) > TOLERANCE:
        raise DataError(f"{what}: shares sum to {total:g}; expected 1 (within {TOLERANCE:g})")
    return {k: float(v) / total for k, v in shares.items()}


def load_population(spec, base_dir: str | Path | None, sensitive: list[str]) -> Population | None:
    """The policy's ``population`` (a mapping, or a CSV path relative to ``base_dir``), validated.

    Raises
    ------
    DataError
        Unreadable file, no ``share`` column, columns that are not sensitive, shares outside
        [0, 1] or not summing to 1, a combination declared twice.
    """
    if spec is None:
        return None
    if isinstance(spec, dict):
        marg = {str(c): _rescaled({str(k): float(v) for k, v in shares.items()}, f"population.{c}")
                for c, shares in spec.items()}
        return Population("policy", marg)
    path = Path(spec)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    import pandas as pd

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"population file not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad input file
        raise DataError(f"{path}: cannot read the population file: {exc}") from None
    if SHARE_COLUMN not in raw.columns:
        raise DataError(f"{path}: no {SHARE_COLUMN!r} column; expected the sensitive columns and a "
                        f"{SHARE_COLUMN!r} column, found {list(raw.columns)}")
    cols = [c for c in raw.columns if c != SHARE_COLUMN]
    stray = [c for c in cols if c not in sensitive]
    if not cols or stray:
        raise DataError(f"{path}: column(s) {stray or '[]'} are not sensitive columns; expected some of "
                        f"{list(sensitive)} and {SHARE_COLUMN!r}")
    share = pd.to_numeric(raw[SHARE_COLUMN], errors="coerce")
    bad = raw.index[share.isna() | (share < 0) | (share > 1)].tolist()
    if bad:
        raise DataError(f"{path}: column {SHARE_COLUMN!r} row(s) {[i + 2 for i in bad[:5]]} are not numbers in "
                        f"[0, 1]; found {raw.loc[bad[:5], SHARE_COLUMN].tolist()}")
    keys = [tuple(str(v) for v in row) for row in raw[cols].itertuples(index=False, name=None)]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise DataError(f"{path}: combination(s) {dup[:5]} of {cols} appear more than once; expected one row each")
    joint = _rescaled(dict(zip(keys, share.astype(float).tolist(), strict=True)), str(path))
    marg: dict[str, dict[str, float]] = {}
    for j, c in enumerate(cols):
        acc: dict[str, float] = {}
        for k, s in joint.items():
            acc[k[j]] = acc.get(k[j], 0.0) + s
        marg[c] = acc
    return Population(str(path), marg, tuple(cols), joint)


def check_population(pop: Population | None, counts: dict, location: str) -> None:
    """Every value the data holds in a declared column must have a declared share (missing values
    aside, unless declared as ``<missing>``); DataError naming the column and the values.

    ``counts`` are the sample pass's exact value counts (column -> {value name: rows}).
    """
    if pop is None:
        return
    for col, shares in pop.marginals.items():
        seen = counts.get(col)
        if seen is None:
            continue  # more than MAX_VOCAB values: the check itself reports the undeclared ones
        extra = sorted(v for v, n in seen.items() if n and v not in shares and v != MISSING_NAME)
        if extra:
            raise DataError(f"{location}: sensitive column {col!r} has value(s) {extra[:10]} with no declared "
                            f"population share (population from {pop.source} declares {sorted(shares)}); "
                            "declare a share for each value")
