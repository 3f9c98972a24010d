"""Settings of the village indicators: standard distances, needs decay, reference date.

Kept apart from :mod:`layers.indicators` so the choices a meeting makes (standards, the
half-life of old needs, the reference date) can be read, recorded and restored without the
analysis itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from layers.errors import N_, InputError
from layers.indicator_inputs import require_columns
from layers.schema import FACILITY_TYPES

#: Standard distance (metres) per facility type: people farther away count as beyond it.
DEFAULT_STANDARDS_M: dict[str, float] = {
    "posyandu": 2_000.0,
    "poskesdes": 3_000.0,
    "pustu": 3_000.0,
    "puskesmas": 5_000.0,
    "hospital": 25_000.0,
    "paud": 1_000.0,
    "sd": 3_000.0,
    "smp": 6_000.0,
    "sma": 10_000.0,
    "water_point": 500.0,
}

#: What each default standard rests on (shown in the documentation and the method).
STANDARD_BASIS: dict[str, str] = {
    "posyandu": "project default, to be agreed locally (one posyandu per dusun/RW)",
    "poskesdes": "project default, to be agreed locally (one poskesdes per desa)",
    "pustu": "project default, to be agreed locally",
    "puskesmas": "project default, to be agreed locally",
    "hospital": "project default, to be agreed locally",
    "paud": "project default, to be agreed locally",
    "sd": "Permendiknas 24/2007: at most 3 km walking for pupils of a settlement",
    "smp": "Permendiknas 24/2007: at most 6 km walking for pupils of a settlement",
    "sma": "project default (in 2018 the education ministry described 9-10 km as the usual "
    "zoning radius for SMA/SMK, not a regulation)",
    "water_point": "Sphere humanitarian standard: at most 500 m to the nearest water point",
}

#: Need statuses counted as open and as addressed.
OPEN_STATUSES: tuple[str, ...] = ("open", "verified", "in_progress")
ADDRESSED_STATUSES: tuple[str, ...] = ("addressed", "closed")
#: Period columns of long indicator tables (the latest period per village is used).
PERIOD_COLUMNS: tuple[str, ...] = ("tahun", "year", "periode", "period")
#: PODES codes for "very far / unknown" in distance columns (never a real distance).
SENTINELS: tuple[float, ...] = (99.9, 99.0)
#: Villages whose area lies on the raster at least this much use the raster's people.
RASTER_COVERAGE = 0.99


def as_metric_crs(value: Any) -> pyproj.CRS:
    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(
            N_("%(crs)r is not a coordinate reference system: %(reason)s"),
            params={"crs": str(value), "reason": str(exc)},
        ) from exc
    units = {a.unit_name for a in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter"}:
        raise InputError(
            N_(
                "the CRS %(crs)s does not measure in metres; "
                "choose a projected CRS such as a UTM zone"
            ),
            params={"crs": str(value)},
        )
    return crs


@dataclass(frozen=True)
class IndicatorSettings:
    """Choices behind the indicators.

    Parameters
    ----------
    standards_m : dict
        Standard distance in metres per facility type (:data:`DEFAULT_STANDARDS_M`, whose
        basis is in :data:`STANDARD_BASIS`). A type without a standard gets no
        ``share_beyond`` column. The dict replaces the defaults: to change one, pass
        ``{**DEFAULT_STANDARDS_M, "puskesmas": 3000.0}``.
    half_life_days : float, optional
        Recency decay of needs: a need reported ``age`` days before ``as_of`` weighs
        ``severity * 0.5 ** (age / half_life_days)``. None: no decay.
    as_of : datetime.date, optional
        The date the indicators describe (default: today). Needs reported after it are
        left out and counted.
    types : tuple of str, optional
        Facility types to compute (default: the types present in the facilities).
    crs : str, optional
        Metric CRS for distances (default: :func:`layers.crs.metric_crs` of the villages).
    include_addressed : bool
        Count addressed and closed needs in ``needs__*`` and the weighted needs too
        (default False: those measure what is still unmet).
    distance_columns : tuple of str
        Indicator-table columns holding PODES distances besides those whose name
        contains ``jarak`` (e.g. PODES variable codes such as ``r502ck3``), matched
        without regard to case; their 99.9 and 99 become NaN.

    Raises
    ------
    InputError
        For an unknown facility type, a distance that is not a positive number, a
        half-life that is not positive, a date that is not a date, or a CRS that does not
        measure in metres.
    """

    standards_m: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_STANDARDS_M), hash=False
    )
    half_life_days: float | None = None
    as_of: date | None = None
    types: tuple[str, ...] | None = None
    crs: str | None = None
    include_addressed: bool = False
    distance_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        allowed = ", ".join(FACILITY_TYPES)
        if not isinstance(self.standards_m, Mapping):
            raise InputError(
                N_("standard distances must map a facility type to metres, got %(value)r"),
                params={"value": self.standards_m},
            )
        standards = {}
        for key, value in self.standards_m.items():
            if key not in FACILITY_TYPES:
                raise InputError(
                    N_("%(type)r is not a facility type; use one of %(allowed)s"),
                    params={"type": key, "allowed": allowed},
                )
            ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
            if not ok or not math.isfinite(float(value)) or float(value) <= 0:
                raise InputError(
                    N_(
                        "the standard distance for %(type)s must be a positive number of metres, "
                        "got %(value)r"
                    ),
                    params={"type": key, "value": value},
                )
            standards[key] = float(value)
        object.__setattr__(self, "standards_m", standards)
        if self.half_life_days is not None:
            h = self.half_life_days
            ok = isinstance(h, int | float | np.number) and not isinstance(h, bool)
            if not ok or not math.isfinite(float(h)) or float(h) <= 0:
                raise InputError(
                    N_("the half-life of needs must be a positive number of days, got %(value)r"),
                    params={"value": h},
                )
            object.__setattr__(self, "half_life_days", float(h))
        if self.as_of is not None:
            if isinstance(self.as_of, datetime):
                object.__setattr__(self, "as_of", self.as_of.date())
            elif not isinstance(self.as_of, date):
                raise InputError(
                    N_("the reference date must be a date, got %(value)r"),
                    params={"value": self.as_of},
                )
        if self.types is not None:
            types = (self.types,) if isinstance(self.types, str) else tuple(self.types)
            if not types:
                raise InputError(N_("give at least one facility type, or none for all present"))
            for t in types:
                if t not in FACILITY_TYPES:
                    raise InputError(
                        N_("%(type)r is not a facility type; use one of %(allowed)s"),
                        params={"type": t, "allowed": allowed},
                    )
            object.__setattr__(self, "types", tuple(dict.fromkeys(types)))
        if self.crs is not None:
            as_metric_crs(self.crs)
        if not isinstance(self.include_addressed, bool):
            raise InputError(
                N_("include_addressed must be true or false, got %(value)r"),
                params={"value": self.include_addressed},
            )
        columns = (
            (self.distance_columns,)
            if isinstance(self.distance_columns, str)
            else tuple(self.distance_columns)
        )
        if not all(isinstance(c, str) and c for c in columns):
            raise InputError(
                N_("distance columns must be column names, got %(value)r"),
                params={"value": self.distance_columns},
            )
        object.__setattr__(self, "distance_columns", columns)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-friendly data."""
        out = asdict(self)
        out["as_of"] = None if self.as_of is None else self.as_of.isoformat()
        out["types"] = None if self.types is None else list(self.types)
        out["distance_columns"] = list(self.distance_columns)
        return out


def podes_distance_columns(dictionary: pd.DataFrame) -> tuple[str, ...]:
    """PODES variables that hold distances, from a variable dictionary.

    PODES names its variables by code (``R502CK3``); the dictionary's label says which
    are distances ("Jarak(km)"). Pass the result as
    :attr:`IndicatorSettings.distance_columns` so their 99.9 and 99 become NaN.

    Parameters
    ----------
    dictionary : pandas.DataFrame
        Columns ``variable`` and ``label`` (as ``podes2019_dictionary.csv``).

    Returns
    -------
    tuple of str
        The variables whose label mentions ``jarak``, as the dictionary writes them.
    """
    if not isinstance(dictionary, pd.DataFrame):
        raise ValueError(f"dictionary must be a DataFrame, not {type(dictionary).__name__}")
    require_columns(dictionary, "PODES dictionary", ("variable", "label"))
    labels = dictionary["label"].astype(str).str.lower()
    return tuple(dictionary.loc[labels.str.contains("jarak"), "variable"].astype(str))
