"""Administrative codes: Kemendagri parsing and hierarchy, and the BPS bridge.

Two code systems describe the same villages. Kemendagri codes (``PP.KK.CC.DDDD``) key
village boundaries, IDM and village administration; BPS codes (10 digits, ``PPKKCCCDDD``)
key PODES and Kemenkes facility codes. Kecamatan numbering differs between the two and in
several regencies the regency codes are swapped (BPS 1508 is Kemendagri 15.09 in Jambi),
so BPS data is joined **only** through the official bridge tables and a village crosswalk,
never by prefix. Every code that does not match is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.errors import N_, InputError
from layers.report import MESSAGES

__all__ = [
    "CodeBridge",
    "CodeError",
    "kemendagri_level",
    "normalize_kemendagri",
    "normalize_kemendagri_series",
    "parent_codes",
    "village_type",
]

_LEVEL_DIGITS = {"provinsi": 2, "kabupaten": 4, "kecamatan": 6, "desa": 10}


class CodeError(ValueError):
    """A Kemendagri code is not valid; ``code`` names the problem for findings.

    ``code`` is a key of :data:`layers.report.MESSAGES` (``code_empty``, ``code_length`` ...)
    whose template, filled with ``params`` and the offending ``value``, says why.
    """

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = params
        template = MESSAGES[code].replace("%(value)r is not a valid Kemendagri code: ", "")
        super().__init__(template % params)


_SEPARATORS = re.compile(r"[\s.\-_/]")


def _digits_of(code: object) -> str:
    """Strip separators and an Excel float tail ('1502012001.0') from a raw code."""
    if code is None or (isinstance(code, float) and np.isnan(code)):
        raise CodeError("code_empty")
    text = str(code).strip()
    if re.fullmatch(r"\d+\.0+", text):  # a code that went through a spreadsheet as a number
        text = text.split(".", 1)[0]
    dotted = text.count(".") >= 1 and re.fullmatch(r"\d+(\.\d+)+", text)
    if dotted:
        parts = text.split(".")
        widths = (2, 2, 2, 4)
        if len(parts) > 4 or any(len(p) > w for p, w in zip(parts, widths, strict=False)):
            raise CodeError("code_dotted_parts")
        return "".join(p.zfill(w) for p, w in zip(parts, widths, strict=False))
    digits = _SEPARATORS.sub("", text)
    if not digits:
        raise CodeError("code_empty")
    if not digits.isdigit():
        raise CodeError("code_not_digits")
    return digits


def kemendagri_level(code: object) -> str:
    """Return the level a Kemendagri code names: provinsi, kabupaten, kecamatan or desa.

    Parameters
    ----------
    code : str
        A code with or without dots.

    Returns
    -------
    str
        ``"provinsi"``, ``"kabupaten"``, ``"kecamatan"`` or ``"desa"`` (desa and kelurahan).
    """
    digits = _digits_of(code)
    for level, n in _LEVEL_DIGITS.items():
        if len(digits) == n:
            return level
    raise ValueError(f"a Kemendagri code has 2, 4, 6 or 10 digits, not {len(digits)}")


def normalize_kemendagri(code: object, level: str = "desa") -> str:
    """Normalise a Kemendagri code to its dotted form and check it.

    Parameters
    ----------
    code : str
        ``"1502012001"``, ``"15.02.01.2001"``, ``" 15.02.01.2001 "`` or a spreadsheet
        number such as ``1502012001.0``.
    level : {"desa", "kecamatan", "kabupaten", "provinsi"}
        The level the code must have.

    Returns
    -------
    str
        ``"PP.KK.CC.DDDD"`` (or the shorter dotted form for higher levels).

    Raises
    ------
    CodeError
        A ValueError naming the problem, when the code is not a valid code of that level.
    """
    if level not in _LEVEL_DIGITS:
        raise ValueError(f"level must be one of {', '.join(_LEVEL_DIGITS)}, not {level!r}")
    digits = _digits_of(code)
    want = _LEVEL_DIGITS[level]
    if len(digits) != want:
        raise CodeError("code_length", level=level, want=want, got=len(digits))
    prov = int(digits[:2])
    if not 11 <= prov <= 99:
        raise CodeError("code_province", part=digits[:2])
    if want >= 4 and digits[2:4] == "00":
        raise CodeError("code_zero_part", part="kabupaten/kota")
    if want >= 6 and digits[4:6] == "00":
        raise CodeError("code_zero_part", part="kecamatan")
    if want == 10 and digits[6] not in "12":
        raise CodeError("code_village_digit", part=digits[6:])
    return ".".join(p for p in (digits[:2], digits[2:4], digits[4:6], digits[6:10]) if p)


def normalize_kemendagri_series(
    codes: pd.Series, level: str = "desa"
) -> tuple[pd.Series, pd.Series]:
    """Normalise a column of Kemendagri codes.

    Parameters
    ----------
    codes : pandas.Series
        Raw codes (text, or numbers from a spreadsheet).
    level : str
        Level every code must have (see :func:`normalize_kemendagri`).

    Returns
    -------
    normalised : pandas.Series
        Dotted codes as text; missing where the code is invalid.
    errors : pandas.Series
        The reason for each invalid code; missing where the code is valid.
    """
    if level not in _LEVEL_DIGITS:
        raise ValueError(f"level must be one of {', '.join(_LEVEL_DIGITS)}, not {level!r}")
    raw = codes.astype("object")
    text = raw.where(raw.notna(), "").astype(str).str.strip()
    out = pd.Series(None, index=codes.index, dtype="object")
    err = pd.Series(None, index=codes.index, dtype="object")
    slow = np.ones(len(text), dtype=bool)
    if level == "desa":
        # Vectorised path for the usual forms (dotted, or 10 plain digits) of valid codes;
        # everything else, errors included, goes through normalize_kemendagri one by one.
        digits = text.str.replace(r"^(\d\d)\.(\d\d)\.(\d\d)\.(\d{4})$", r"\1\2\3\4", regex=True)
        ok = (
            digits.str.fullmatch(r"\d{10}").fillna(False)
            & (digits.str[:2] >= "11").fillna(False)
            & (digits.str[2:4] != "00").fillna(False)
            & (digits.str[4:6] != "00").fillna(False)
            & digits.str[6].isin(["1", "2"])
        ).to_numpy(dtype=bool, copy=True)
        good = digits[ok]
        out[ok] = (
            good.str[:2] + "." + good.str[2:4] + "." + good.str[4:6] + "." + good.str[6:]
        ).to_numpy(dtype=object)
        slow = ~ok
    # Parse each other distinct code once: a layer repeats few codes many times.
    cache: dict[str, tuple[str | None, str | None]] = {}
    for value in pd.unique(text[slow]):
        try:
            cache[value] = (normalize_kemendagri(value, level), None)
        except ValueError as exc:
            cache[value] = (None, str(exc))
    if slow.any():
        rest = text[slow]
        out[slow] = rest.map(lambda v: cache[v][0]).to_numpy(dtype=object)
        err[slow] = rest.map(lambda v: cache[v][1]).to_numpy(dtype=object)
    return out.astype("object"), err.astype("object")


def village_type(kode: str) -> str:
    """Return ``"kelurahan"`` or ``"desa"`` from the first digit of the village part."""
    code = normalize_kemendagri(kode)
    return "kelurahan" if code[9] == "1" else "desa"


def parent_codes(kode: str) -> dict[str, str]:
    """Return the province, regency and district codes of a village code.

    Parameters
    ----------
    kode : str
        A Kemendagri village code, with or without dots.

    Returns
    -------
    dict
        ``{"provinsi_kode": "15", "kabupaten_kode": "15.02", "kecamatan_kode": "15.02.01"}``.
    """
    code = normalize_kemendagri(kode)
    return {
        "provinsi_kode": code[:2],
        "kabupaten_kode": code[:5],
        "kecamatan_kode": code[:8],
    }


def bps_digits(code: object, n: int) -> str:
    """Return a BPS code as ``n`` digits of text, or raise ValueError with the reason."""
    digits = _digits_of(code)
    if len(digits) != n:
        raise ValueError(f"a BPS code at this level has {n} digits, this one has {len(digits)}")
    return digits


def _dotted(digits: str) -> str:
    return ".".join(p for p in (digits[:2], digits[2:4], digits[4:6], digits[6:10]) if p)


@dataclass
class CrosswalkResult:
    """Outcome of translating BPS codes to Kemendagri codes.

    Attributes
    ----------
    kode : pandas.Series
        Kemendagri codes (dotted), missing where there was no match.
    method : pandas.Series
        How each code matched (``exact_name_in_kec``, ``fuzzy_name_in_kec`` ...) or why not.
    unmatched : dict
        BPS code -> number of rows, for every code that found no Kemendagri code.
    """

    kode: pd.Series
    method: pd.Series
    unmatched: dict[str, int] = field(default_factory=dict)


class CodeBridge:
    """The official BPS <-> Kemendagri bridge plus a village crosswalk.

    Build it from tables, or with :meth:`from_directory` from the CSV files shipped in
    ``data/boundaries/<area>/codes``. It translates codes; it never guesses from prefixes.

    Parameters
    ----------
    regencies : pandas.DataFrame
        Columns ``kode_bps`` (4 digits) and ``kode_dagri`` (4 digits).
    districts : pandas.DataFrame, optional
        Columns ``kode_bps`` (7 digits) and ``kode_dagri`` (6 digits).
    villages : pandas.DataFrame, optional
        Columns ``kode_bps_desa`` (10 digits), ``kode_dagri_desa`` (dotted or not) and
        optionally ``match_method``.
    """

    REGENCY_FILE = "bridging_kabkota_2020.csv"
    DISTRICT_FILE = "bridging_kecamatan_2020.csv"
    VILLAGE_FILE = "crosswalk_podes_bps_to_kemendagri.csv"

    def __init__(
        self,
        regencies: pd.DataFrame,
        districts: pd.DataFrame | None = None,
        villages: pd.DataFrame | None = None,
    ) -> None:
        for name, table, cols in (
            ("regencies", regencies, ("kode_bps", "kode_dagri")),
            ("districts", districts, ("kode_bps", "kode_dagri")),
            ("villages", villages, ("kode_bps_desa", "kode_dagri_desa")),
        ):
            if table is None:
                continue
            missing = [c for c in cols if c not in table.columns]
            if missing:
                raise ValueError(
                    f"{name} table lacks column(s) {', '.join(missing)}; "
                    f"it has {', '.join(map(str, table.columns))}"
                )
        self.regency_map = dict(
            zip(regencies["kode_bps"].astype(str), regencies["kode_dagri"].astype(str), strict=True)
        )
        self.district_map = (
            {}
            if districts is None
            else dict(
                zip(
                    districts["kode_bps"].astype(str),
                    districts["kode_dagri"].astype(str),
                    strict=True,
                )
            )
        )
        self.village_map: dict[str, str] = {}
        self.village_method: dict[str, str] = {}
        if villages is not None:
            v = villages.fillna("")
            methods = (
                v["match_method"]
                if "match_method" in v.columns
                else pd.Series("crosswalk", index=v.index)
            )
            for bps, dagri, method in zip(
                v["kode_bps_desa"].astype(str),
                v["kode_dagri_desa"].astype(str),
                methods,
                strict=True,
            ):
                self.village_method[bps] = method or "crosswalk"
                if dagri:
                    self.village_map[bps] = normalize_kemendagri(dagri)

    @classmethod
    def from_directory(cls, path: str | Path) -> CodeBridge:
        """Load the bridge tables from a folder (see the class attributes for file names).

        Raises
        ------
        InputError
            When the regency bridge is missing or a table cannot be read.
        """
        folder = Path(path)
        regency_file = folder / cls.REGENCY_FILE
        if not regency_file.exists():
            raise InputError(
                N_("no BPS-Kemendagri bridge in %(folder)s: expected %(expected)s"),
                file=str(folder),
                params={"folder": str(folder), "expected": cls.REGENCY_FILE},
            )

        def read(name: str) -> pd.DataFrame | None:
            p = folder / name
            if not p.exists():
                return None
            try:
                return pd.read_csv(p, dtype=str, keep_default_na=False)
            except (pd.errors.ParserError, UnicodeDecodeError) as exc:
                raise InputError(
                    N_("cannot read code table: %(reason)s"),
                    file=p.name,
                    params={"reason": str(exc)},
                ) from exc

        return cls(read(cls.REGENCY_FILE), read(cls.DISTRICT_FILE), read(cls.VILLAGE_FILE))

    def regency_to_kemendagri(self, bps_regency: str) -> str | None:
        """Kemendagri regency code (``PP.KK``) for a 4-digit BPS regency code, or None."""
        dagri = self.regency_map.get(str(bps_regency))
        return _dotted(dagri) if dagri else None

    def villages_to_kemendagri(self, bps_codes: pd.Series) -> CrosswalkResult:
        """Translate BPS village codes through the village crosswalk.

        Parameters
        ----------
        bps_codes : pandas.Series
            10-digit BPS village codes as text.

        Returns
        -------
        CrosswalkResult
            Kemendagri codes, match methods, and unmatched codes with row counts.
        """
        text = bps_codes.astype("object").where(bps_codes.notna(), "").astype(str).str.strip()
        text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        kode = text.map(self.village_map)
        method = text.map(self.village_method).fillna("not_in_crosswalk")
        counts = text[kode.isna()].value_counts()
        return CrosswalkResult(
            kode=kode.astype("object"),
            method=method.astype("object"),
            unmatched={str(k): int(v) for k, v in counts.items()},
        )

    def kemenkes_regency(self, facility_codes: pd.Series) -> pd.Series:
        """Kemendagri regency (``PP.KK``) implied by Kemenkes facility codes.

        Kemenkes codes such as ``P1502020201`` carry a BPS regency code in characters 2-5;
        it is translated through the regency bridge (BPS 1508 -> Kemendagri 15.09).
        """
        text = facility_codes.astype("object").where(facility_codes.notna(), "").astype(str)
        bps = text.str.extract(r"^[A-Za-z]?(\d{4})", expand=False)
        mapped = bps.map(self.regency_map)
        return mapped.map(lambda d: _dotted(d) if isinstance(d, str) else None).astype("object")
