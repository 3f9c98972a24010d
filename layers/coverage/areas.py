"""Which kecamatan and kabupaten each village belongs to, for the coverage tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.indicator_inputs import text_codes

LEVELS: tuple[str, ...] = ("village", "kecamatan", "kabupaten")


def village_areas(villages: pd.DataFrame) -> pd.DataFrame:
    """One row per village: its name, kecamatan and kabupaten (codes and names), people.

    The kecamatan is ``kecamatan_kode`` when the layer has it, else the first three parts
    of the village's dotted Kemendagri code (``PP.KK.CC``); the kabupaten likewise
    (``kabupaten_kode`` or ``PP.KK``). Names come from ``kecamatan`` and ``kabupaten``
    (the code when absent).

    Parameters
    ----------
    villages : pandas.DataFrame
        Canonical villages: ``kode`` (text, unique), optionally ``name``, ``kecamatan``,
        ``kecamatan_kode``, ``kabupaten``, ``kabupaten_kode``, ``population``.

    Returns
    -------
    pandas.DataFrame
        Index ``kode``; columns ``name``, ``kecamatan_kode``, ``kecamatan``,
        ``kabupaten_kode``, ``kabupaten``, ``population`` (float, NaN when unknown).

    Raises
    ------
    InputError
        No ``kode`` column, codes that are not text, or repeated codes.
    """
    if not isinstance(villages, pd.DataFrame):
        raise InputError(
            N_("villages must be a table, not %(type)s"), params={"type": type(villages).__name__}
        )
    if "kode" not in villages.columns:
        raise InputError(N_("the villages table has no kode column"), column="kode")
    codes = text_codes(villages["kode"], "villages", required=True).astype(str)
    if codes.duplicated().any():
        shown = ", ".join(sorted(set(codes[codes.duplicated()]))[:5])
        raise InputError(
            N_("village codes must be unique; repeated: %(codes)s"),
            column="kode",
            params={"codes": shown},
        )
    n = len(villages)
    idx = pd.Index(codes.to_numpy(dtype=object), name="kode")

    def column(name: str) -> pd.Series:
        if name in villages.columns:
            values = villages[name].astype("object").to_numpy()
            return pd.Series(values, index=idx, dtype="object").where(pd.notna(values), None)
        return pd.Series([None] * n, index=idx, dtype="object")

    dotted = pd.Series(codes.to_numpy(dtype=object), index=idx)
    kec = column("kecamatan_kode")
    kab = column("kabupaten_kode")
    if kec.isna().any() or kab.isna().any():
        parts = dotted.str.split(".")
        kec = kec.where(kec.notna(), parts.str[:3].str.join("."))
        kab = kab.where(kab.notna(), parts.str[:2].str.join("."))
    kec_name = column("kecamatan")
    kab_name = column("kabupaten")
    population = (
        pd.to_numeric(villages["population"], errors="coerce").to_numpy(dtype=np.float64)
        if "population" in villages.columns
        else np.full(n, np.nan)
    )
    return pd.DataFrame(
        {
            "name": column("name"),
            "kecamatan_kode": kec,
            "kecamatan": kec_name.where(kec_name.notna(), kec),
            "kabupaten_kode": kab,
            "kabupaten": kab_name.where(kab_name.notna(), kab),
            "population": population,
        },
        index=idx,
    )


def check_level(level: str) -> str:
    """Return ``level`` when it is one of :data:`LEVELS`, else raise InputError."""
    if level not in LEVELS:
        raise InputError(
            N_("unknown level %(level)r; expected one of %(levels)s"),
            params={"level": level, "levels": ", ".join(LEVELS)},
        )
    return level
