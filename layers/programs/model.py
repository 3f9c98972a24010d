"""The program register's tables: columns, their Indonesian and English names, vocabularies.

A register holds three tables, stored together as derived tables of a workspace:

- ``programs``: one row per program (``program_id`` unique);
- ``assignments``: one row per program and village (``program_id`` + ``kode`` unique);
- ``activities``: the activity log (``activity_id`` unique), figures reached on a date.

Every value is kept in a canonical form: text codes (leading zeros kept), vocabulary keys
(``health``, ``planned``, ``households``...), dates as ``datetime64[ns]`` at midnight,
rupiah and figures as floats, beneficiaries as nullable integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.errors import N_

#: Dataset names of the register's three tables in the store (kind ``derived``).
DATASETS: dict[str, str] = {
    "programs": "programs",
    "assignments": "program_assignments",
    "activities": "program_activities",
}
#: The tables, in the order they are read, checked and written.
TABLES: tuple[str, ...] = ("programs", "assignments", "activities")

SECTORS: tuple[str, ...] = (
    "health",
    "education",
    "water_sanitation",
    "nutrition",
    "economy",
    "infrastructure",
    "social_protection",
    "other",
)
#: Sector labels (English template, Indonesian in the catalogues).
SECTOR_LABELS: dict[str, str] = {
    "health": N_("Health"),
    "education": N_("Education"),
    "water_sanitation": N_("Water and sanitation"),
    "nutrition": N_("Nutrition"),
    "economy": N_("Economy"),
    "infrastructure": N_("Infrastructure"),
    "social_protection": N_("Social protection"),
    "other": N_("Other"),
}
STATUSES: tuple[str, ...] = ("planned", "active", "completed", "dropped")
STATUS_LABELS: dict[str, str] = {
    "planned": N_("Planned"),
    "active": N_("Active"),
    "completed": N_("Completed"),
    "dropped": N_("Dropped"),
}
UNITS: tuple[str, ...] = ("persons", "households", "groups")
UNIT_LABELS: dict[str, str] = {
    "persons": N_("persons"),
    "households": N_("households"),
    "groups": N_("groups"),
}

#: Words people write for each vocabulary value (matched without case; ``_`` = space).
SECTOR_ALIASES: dict[str, tuple[str, ...]] = {
    "health": ("health", "kesehatan"),
    "education": ("education", "pendidikan"),
    "water_sanitation": (
        "water sanitation",
        "water and sanitation",
        "wash",
        "air bersih",
        "sanitasi",
        "air bersih dan sanitasi",
        "air bersih sanitasi",
        "air sanitasi",
    ),
    "nutrition": ("nutrition", "gizi", "stunting"),
    "economy": ("economy", "ekonomi", "livelihood", "mata pencaharian"),
    "infrastructure": ("infrastructure", "infrastruktur"),
    "social_protection": (
        "social protection",
        "perlindungan sosial",
        "bansos",
        "bantuan sosial",
    ),
    "other": ("other", "lainnya", "lain lain", "lain"),
}
STATUS_ALIASES: dict[str, tuple[str, ...]] = {
    "planned": ("planned", "rencana", "direncanakan", "perencanaan"),
    "active": ("active", "aktif", "berjalan", "sedang berjalan", "ongoing"),
    "completed": ("completed", "selesai", "done", "tuntas"),
    "dropped": ("dropped", "batal", "dibatalkan", "dihentikan", "cancelled", "canceled"),
}
UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    "persons": ("persons", "person", "people", "orang", "jiwa", "individu", "penerima"),
    "households": (
        "households",
        "household",
        "rumah tangga",
        "rt",
        "kk",
        "keluarga",
        "kepala keluarga",
    ),
    "groups": ("groups", "group", "kelompok"),
}


def vocabulary(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Lower-case word (underscores as spaces) -> vocabulary key."""
    out: dict[str, str] = {}
    for key, words in aliases.items():
        out[key.replace("_", " ")] = key
        for word in words:
            out[re.sub(r"[\s_]+", " ", word.lower())] = key
    return out


@dataclass(frozen=True)
class Field:
    """One column of a register table.

    Attributes
    ----------
    name : str
        Canonical (English) column name.
    dtype : str
        ``text``, ``code``, ``date``, ``money``, ``count`` (whole number >= 0),
        ``number`` (>= 0), ``sector``, ``status`` or ``unit``.
    required : bool
        A blank cell rejects the row.
    names : tuple of str
        Accepted column names besides ``name`` (Indonesian first).
    """

    name: str
    dtype: str
    required: bool
    names: tuple[str, ...]


FIELDS: dict[str, tuple[Field, ...]] = {
    "programs": (
        Field("program_id", "text", True, ("id_program", "kode_program", "program", "id")),
        Field("name", "text", True, ("nama_program", "nama", "program_name")),
        Field("sector", "sector", True, ("sektor", "bidang")),
        Field(
            "organisation",
            "text",
            False,
            ("pelaksana", "lembaga", "organisasi", "lembaga_pelaksana", "organization"),
        ),
        Field("donor", "text", False, ("asal_dana", "sumber_dana", "funder", "penyandang_dana")),
        Field("budget", "money", False, ("anggaran", "anggaran_rp", "nilai", "budget_rp")),
        Field("start", "date", False, ("tanggal_mulai", "mulai", "start_date")),
        Field("end", "date", False, ("tanggal_selesai", "selesai", "end_date")),
        Field("target_group", "unit", False, ("sasaran", "kelompok_sasaran")),
        Field("status", "status", False, ("status_program",)),
        Field("note", "text", False, ("catatan", "keterangan")),
    ),
    "assignments": (
        Field("program_id", "text", True, ("id_program", "kode_program", "program")),
        Field(
            "kode",
            "code",
            True,
            ("kode_desa", "kode_wilayah", "kode_kemendagri", "village_code", "code"),
        ),
        Field("planned", "count", False, ("rencana", "rencana_penerima", "target", "sasaran")),
        Field("achieved", "count", False, ("capaian", "realisasi", "tercapai")),
        Field("unit", "unit", False, ("satuan",)),
        Field("start", "date", False, ("tanggal_mulai", "mulai", "start_date")),
        Field("end", "date", False, ("tanggal_selesai", "selesai", "end_date")),
        Field("status", "status", False, ("status_lokasi",)),
        Field("scenario", "text", False, ("skenario",)),
        Field("note", "text", False, ("catatan", "keterangan")),
    ),
    "activities": (
        Field("activity_id", "text", False, ("id_kegiatan", "id_aktivitas", "id")),
        Field("program_id", "text", True, ("id_program", "kode_program", "program")),
        Field(
            "kode",
            "code",
            False,
            ("kode_desa", "kode_wilayah", "kode_kemendagri", "village_code", "code"),
        ),
        Field("date", "date", True, ("tanggal", "tgl")),
        Field("figure", "number", True, ("angka", "jumlah", "capaian", "nilai")),
        Field("unit", "unit", False, ("satuan",)),
        Field("description", "text", False, ("uraian", "deskripsi", "kegiatan", "keterangan")),
    ),
}

#: The key columns of each table: a row is identified by them.
KEYS: dict[str, tuple[str, ...]] = {
    "programs": ("program_id",),
    "assignments": ("program_id", "kode"),
    "activities": ("activity_id",),
}

#: Indonesian column names written by the export beside the English ones (documentation).
INDONESIAN: dict[str, dict[str, str]] = {
    table: {f.name: f.names[0] for f in fields} for table, fields in FIELDS.items()
}

#: Accepted sheet or file names for each table (XLSX sheet, CSV file stem).
TABLE_NAMES: dict[str, tuple[str, ...]] = {
    "programs": ("programs", "program"),
    "assignments": ("assignments", "assignment", "lokasi", "penempatan", "desa_sasaran"),
    "activities": ("activities", "activity", "kegiatan", "log_kegiatan", "aktivitas"),
}

_DTYPES = {
    "text": "object",
    "code": "object",
    "sector": "object",
    "status": "object",
    "unit": "object",
    "date": "datetime64[ns]",
    "money": "float64",
    "number": "float64",
    "count": "Int64",
}


def columns(table: str) -> list[str]:
    """Canonical column names of ``table``, in order."""
    return [f.name for f in FIELDS[table]]


def empty(table: str) -> pd.DataFrame:
    """An empty table with the canonical columns and dtypes."""
    return pd.DataFrame(
        {f.name: pd.Series([], dtype=_DTYPES[f.dtype]) for f in FIELDS[table]},
        index=pd.RangeIndex(0),
    )


def canonical(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the canonical columns, dtypes and a fresh 0..n-1 index.

    Text cells are Python strings or None; dates are normalised to midnight.
    """
    out = {}
    n = len(frame)
    for f in FIELDS[table]:
        absent = pd.Series([None] * n, dtype="object")
        values = frame[f.name] if f.name in frame.columns else absent
        values = pd.Series(values.to_numpy(), index=pd.RangeIndex(n))
        kind = _DTYPES[f.dtype]
        if kind == "object":
            present = values.notna().to_numpy()
            text = values.astype("object").astype(str).to_numpy(dtype=object)
            values = pd.Series(np.where(present, text, None), index=values.index, dtype="object")
        elif kind == "datetime64[ns]":
            values = pd.to_datetime(values, errors="raise").dt.normalize().astype(kind)
        elif kind == "Int64":
            values = pd.array(pd.to_numeric(values, errors="raise"), dtype="Int64")
            values = pd.Series(values, index=pd.RangeIndex(n))
        else:
            values = pd.to_numeric(values, errors="raise").astype(np.float64)
        out[f.name] = values
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def key_strings(table: str, frame: pd.DataFrame) -> pd.Series:
    """Each row's key as one text (``program_id`` or ``program_id|kode``)."""
    keys = KEYS[table]
    text = frame[keys[0]].astype("object").astype(str)
    for k in keys[1:]:
        text = text + "|" + frame[k].astype("object").astype(str)
    return text
