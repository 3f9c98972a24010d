"""Row checks: the keep mask, findings per row, typed values, ids and duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.io import RawLayer
from layers.report import ValidationReport
from layers.schema import VOCABULARIES, LayerSpec
from layers.validate.cells import blank, map_vocabulary, parse_dates, to_number


class RowChecker:
    """One validation run: holds the frame, the keep mask and the report."""

    def __init__(self, raw: RawLayer, spec: LayerSpec, report: ValidationReport) -> None:
        self.raw = raw
        self.spec = spec
        self.report = report
        self.frame = raw.frame
        self.rows = np.asarray(raw.rows)
        self.keep = np.ones(len(self.frame), dtype=bool)
        self.repaired = np.zeros(len(self.frame), dtype=bool)
        self.out: dict[str, pd.Series] = {}

    @property
    def geometry_column(self) -> str:
        """The file's column(s) the geometry came from, for findings ("lintang,bujur")."""
        return ",".join(self.raw.coordinate_columns) or "geometry"

    def _record(self, action, mask, code, column, values, per_row, params) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool) & self.keep
        if mask.any():
            vals = None if values is None else np.asarray(values, dtype=object)[mask]
            extra = {k: np.asarray(a, dtype=object)[mask] for k, a in (per_row or {}).items()}
            self.report.add_rows(action, code, self.rows[mask], column, vals, extra, **params)
        return mask

    def reject(self, mask, code, column=None, values=None, per_row=None, **params) -> None:
        """Reject the rows in ``mask`` (still kept) with one finding each."""
        self.keep &= ~self._record("rejected", mask, code, column, values, per_row, params)

    def repair(self, mask, code, column=None, values=None, per_row=None, **params) -> None:
        """Record a repair for the rows in ``mask`` (the caller changes the values)."""
        self.repaired |= self._record("repaired", mask, code, column, values, per_row, params)

    def warn(self, mask, code, column=None, values=None, per_row=None, **params) -> None:
        """Record a warning for the rows in ``mask``; they stay as they are."""
        self._record("warning", mask, code, column, values, per_row, params)


def check_values(v: RowChecker, found: dict[str, str]) -> None:
    """Parse and check every mapped attribute column by its dtype."""
    spec = v.spec
    for col in spec.columns:
        source = found.get(col.name)
        if source is None:
            continue
        raw = v.frame[source]
        if col.dtype == "text":
            values = blank(raw)
            if col.required:
                v.reject(values.isna().to_numpy(), "value_required", source)
            v.out[col.name] = values
        elif col.dtype == "category":
            vocab = VOCABULARIES.get((spec.kind, col.name), {a: a for a in col.allowed})
            mapped, missing = map_vocabulary(raw, vocab)
            if col.required:
                v.reject(missing, "value_required", source)
            unknown = ~missing & mapped.isna().to_numpy()
            v.reject(unknown, "value_not_allowed", source, raw, allowed=", ".join(col.allowed))
            v.out[col.name] = mapped
        elif col.dtype in ("int", "float"):
            values, bad = to_number(raw)
            v.reject(bad.to_numpy(), "value_not_number", source, raw)
            if col.required:
                v.reject(values.isna().to_numpy(), "value_required", source)
            if col.dtype == "int":
                frac = values.notna() & (values != np.round(values))
                v.reject(frac.to_numpy(), "value_not_number", source, raw)
            v.reject((values < 0).fillna(False).to_numpy(), "value_negative", source, values)
            v.out[col.name] = values
        elif col.dtype == "date":
            values, bad = parse_dates(raw)
            v.reject(bad.to_numpy(), "date_invalid", source, raw)
            if col.required:
                v.reject(values.isna().to_numpy(), "value_required", source)
            v.out[col.name] = values


def check_ids(v: RowChecker, found: dict[str, str], prefix: str) -> None:
    """Generate missing ids and reject later duplicates of an id."""
    id_col = v.spec.id_column
    if id_col is None or id_col == "kode":
        return
    ids = v.out.get(id_col)
    if ids is None:
        ids = pd.Series([None] * len(v.frame), index=v.frame.index, dtype="str")
    missing = ids.isna().to_numpy() & v.keep
    if missing.any():
        generated = [f"{prefix}{r:07d}" for r in v.rows[missing]]
        ids = ids.copy()
        ids[missing] = generated
        v.report.add(
            "repaired",
            "ids_generated",
            column=found.get(id_col),
            count=int(missing.sum()),
            first=generated[0],
            last=generated[-1],
        )
    v.out[id_col] = ids
    reject_duplicates(v, ids, "id_duplicate", found.get(id_col))


def reject_duplicates(v: RowChecker, keys: pd.Series, code: str, column: str | None) -> None:
    """Reject every later row whose key repeats an earlier kept row, naming the first."""
    live = pd.Series(keys.to_numpy(), dtype="object").where(v.keep)
    dup = live.duplicated(keep="first") & live.notna()
    if not dup.any():
        return
    first_pos = pd.Series(np.arange(len(live))).groupby(live.to_numpy()).transform("min")
    for value, idx in pd.Series(np.flatnonzero(dup.to_numpy())).groupby(live[dup].to_numpy()):
        first_row = int(v.rows[int(first_pos.iloc[idx.iloc[0]])])
        mask = np.zeros(len(live), dtype=bool)
        mask[idx.to_numpy()] = True
        vals = np.full(len(live), value, dtype=object)
        v.reject(mask, code, column, vals, first=first_row)
