"""Village codes for rows: from the code column (BPS through the crosswalk) or the point."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import codes as codes_mod
from layers.errors import N_, InputError
from layers.placement import Placement
from layers.validate.cells import blank
from layers.validate.checker import RowChecker


def place_in_villages(
    v: RowChecker,
    values: np.ndarray,
    villages: gpd.GeoDataFrame | None,
    given_kode: pd.Series | None,
    placement: Placement | None,
    code_column: str | None = None,
) -> pd.Series:
    """Village codes from the points' placement; warn about outside, overlap, disagreement."""
    if placement is None or villages is None or len(villages) == 0:
        v.report.notes["placement"] = "no villages in the workspace: points were not placed"
        if given_kode is not None:
            return given_kode.reset_index(drop=True)
        return pd.Series(np.full(len(values), None, dtype=object), dtype="str")
    live = v.keep & ~shapely.is_missing(values)
    chosen = placement.village
    placed = live & (chosen >= 0)
    # Taken from the villages' text codes without making a Python string per point.
    codes = villages["kode"].astype("str").array
    kode = pd.Series(codes.take(np.where(placed, chosen, -1), allow_fill=True))
    v.warn(live & ~placed, "point_outside_villages", v.geometry_column)
    if len(placement.overlaps):
        village_codes = villages["kode"].to_numpy(dtype=object)
        pts = placement.overlaps["point"].to_numpy()
        mask = np.zeros(len(values), dtype=bool)
        mask[pts] = True
        cand = np.full(len(values), None, dtype=object)
        cand[pts] = [
            ", ".join(village_codes[c] for c in cs) for cs in placement.overlaps["candidates"]
        ]
        chosen_code = np.full(len(values), None, dtype=object)
        chosen_code[pts] = village_codes[chosen[pts]]
        count = np.zeros(len(values), dtype=np.int64)
        count[pts] = [len(c) for c in placement.overlaps["candidates"]]
        v.warn(
            mask,
            "point_in_overlap",
            v.geometry_column,
            per_row={"codes": cand, "chosen": chosen_code, "count": count},
        )
    if given_kode is not None:
        given = given_kode.reset_index(drop=True).astype("str")
        has_given = given.notna().to_numpy()
        without_point = ~live & has_given
        if without_point.any():
            kode = kode.mask(without_point, given)
        differs = placed & has_given
        if differs.any():
            # Both codes are present there: Arrow compares the text, no Python strings.
            differs &= (given != kode).to_numpy(dtype=bool, na_value=True)
        if differs.any():
            v.warn(
                differs,
                "code_disagrees_with_location",
                code_column or "kode",
                per_row={
                    "expected": given.to_numpy(dtype=object),
                    "found": kode.to_numpy(dtype=object),
                },
            )
    return kode


def village_codes(
    v: RowChecker, found: dict[str, str], code_system: str, bridge: codes_mod.CodeBridge | None
) -> pd.Series | None:
    """Normalise the layer's village code column (translating BPS codes by crosswalk)."""
    source = found.get("kode")
    if source is None:
        return None
    raw = blank(v.frame[source])
    if code_system == "bps":
        if bridge is None:
            raise InputError(
                N_(
                    "BPS codes can only be joined through the BPS-Kemendagri bridge and "
                    "village crosswalk; give the bridge folder (--bridge)"
                ),
                file=v.raw.source,
            )
        result = bridge.villages_to_kemendagri(raw)
        unmatched = (raw.notna() & result.kode.isna()).to_numpy()
        v.reject(unmatched, "code_unmatched", source, raw)
        v.report.unmatched_codes.update(result.unmatched)
        fuzzy = result.method.str.startswith("fuzzy").to_numpy() & ~unmatched
        v.warn(fuzzy, "crosswalk_fuzzy", source, raw, per_row={"mapped": result.kode})
        v.out["kode_bps"] = raw
        v.out["crosswalk_method"] = result.method
        kode = result.kode
    else:
        kode = _normalized_codes(raw)
        bad = (raw.notna() & kode.isna()).to_numpy()
        reject_invalid_codes(v, bad, raw, source)
        unmatched = {}
        if v.spec.kind == "indicators":
            unmatched = raw[bad].value_counts().to_dict()
        v.report.unmatched_codes.update({str(k): int(n) for k, n in unmatched.items()})
    required = v.spec.column("kode").required
    if required:
        v.reject(raw.isna().to_numpy(), "value_required", source)
    return kode


def _normalized_codes(raw: pd.Series) -> pd.Series:
    """:func:`layers.codes.normalize_kemendagri_series` of a column, each distinct text once.

    Points layers repeat each village's code many times; codes that are not all text go
    through the whole column (``1101012001`` and ``1101012001.0`` compare equal but are
    written differently).
    """
    if len(raw) > 1000 and pd.api.types.infer_dtype(raw, skipna=True) == "string":
        positions, uniques = pd.factorize(raw, use_na_sentinel=True)
        if len(uniques) < len(raw) // 2:
            distinct, _ = codes_mod.normalize_kemendagri_series(pd.Series(uniques, dtype="object"))
            values = np.append(distinct.to_numpy(dtype=object), None)
            return pd.Series(values[positions], index=raw.index, dtype="object")
    kode, _ = codes_mod.normalize_kemendagri_series(raw)
    return kode


def reject_invalid_codes(v: RowChecker, bad: np.ndarray, raw: pd.Series, source: str) -> None:
    """Reject rows with invalid Kemendagri codes, one finding kind per problem."""
    if not bad.any():
        return
    problems: dict[object, codes_mod.CodeError] = {}
    for value in pd.unique(raw[bad]):
        try:
            codes_mod.normalize_kemendagri(value)
        except codes_mod.CodeError as exc:
            problems[value] = exc
    kinds = raw.map(lambda x: problems[x].code if x in problems else None).to_numpy()
    for code in sorted({k for k in kinds[bad] if k is not None}):
        mask = bad & (kinds == code)
        keys = sorted({k for p in problems.values() if p.code == code for k in p.params})
        per_row = {
            key: raw.map(lambda x, key=key: problems[x].params.get(key) if x in problems else None)
            for key in keys
        }
        v.reject(mask, code, source, raw, per_row=per_row)
