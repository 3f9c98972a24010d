"""Matching a file's columns to a layer schema, by name, alias or the user's mapping."""

from __future__ import annotations

import re

from layers.errors import N_, InputError
from layers.schema import LayerSpec

CODE_SYSTEMS = ("kemendagri", "bps")


PERIOD_COLUMNS = ("tahun", "year", "periode", "period")


INTERNAL_COLUMNS = {"geometry", "_coord_error"}


def norm_name(name: object) -> str:
    """Column name for matching: lower case, group prefix dropped, spaces to underscores."""
    text = str(name).strip().lower()
    text = text.rsplit("/", 1)[-1]
    return re.sub(r"[\s\-.]+", "_", text).strip("_")


def match_columns(
    columns: list[str], spec: LayerSpec, mapping: dict[str, str] | None = None, file: str = ""
) -> dict[str, str]:
    """Match a file's columns to a spec's canonical columns.

    Parameters
    ----------
    columns : list of str
        Column names as read.
    spec : LayerSpec
        The target schema.
    mapping : dict, optional
        ``{canonical: source column}`` chosen by the user; wins over aliases.
    file : str
        File name for error messages.

    Returns
    -------
    dict
        ``{canonical: source column}`` for every column found.

    Raises
    ------
    InputError
        When the mapping names an unknown canonical or source column, or a required
        column is missing (the message lists the accepted names and the file's columns).
    """
    usable = [c for c in columns if c not in INTERNAL_COLUMNS]
    by_norm: dict[str, str] = {}
    for c in usable:
        by_norm.setdefault(norm_name(c), c)
    found: dict[str, str] = {}
    for canonical, source in (mapping or {}).items():
        if canonical not in spec.column_names:
            raise InputError(
                N_("cannot map %(column)r: %(kind)s columns are %(columns)s"),
                file=file,
                params={
                    "column": canonical,
                    "kind": spec.kind,
                    "columns": ", ".join(spec.column_names),
                },
            )
        if source not in usable:
            raise InputError(
                N_(
                    "column %(source)r (mapped to %(column)s) is not in the file; "
                    "columns: %(columns)s"
                ),
                file=file,
                params={"source": source, "column": canonical, "columns": ", ".join(usable)},
            )
        found[canonical] = source
    used = set(found.values())
    for col in spec.columns:
        if col.name in found:
            continue
        for alias in (col.name, *col.aliases):
            source = by_norm.get(alias)
            reusable = spec.kind == "facilities" and col.name == "source_code"
            if source is not None and (source not in used or reusable):
                found[col.name] = source
                used.add(source)
                break
    return found


def require_columns(
    spec: LayerSpec, found: dict[str, str], columns: list[str], file: str, geo: bool
):
    for col in spec.columns:
        if not col.required or col.name in found:
            continue
        if spec.kind == "needs" and col.name == "kode":
            continue
        shown = ", ".join(c for c in columns if c not in INTERNAL_COLUMNS)
        raise InputError(
            N_(
                "required column %(column)r not found; name it one of %(names)s, or map it; "
                "the file has: %(found)s"
            )
            if shown
            else N_(
                "required column %(column)r not found; name it one of %(names)s, or map it; "
                "the file has no columns"
            ),
            file=file,
            params={
                "column": col.name,
                "names": ", ".join(dict.fromkeys((col.name, *col.aliases))),
                "found": shown,
            },
        )
    if spec.kind == "needs" and not geo and "kode" not in found:
        raise InputError(
            N_(
                "needs reports need coordinates or a village code column "
                "(kode, kode_desa, kode_wilayah); found neither"
            ),
            file=file,
        )
