"""Service coverage: people within the standard distance of each facility type, and targets.

:class:`ServiceCoverage` reuses :class:`layers.indicators.VillageIndicators` for the
distances and facility counts (the same method as the score) and turns them into a table
partners can check line by line: one row per area and facility type with the people, the
people within the standard distance, the share, the facilities and the facilities per
1,000 people, each against a target (met or not).

People come from the population raster where a village lies on it (its cells' people,
each cell centre measured to the nearest facility), else from the village table's
population with the village's inner point (``point_on_surface``) measured instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.coverage.areas import LEVELS, check_level, village_areas
from layers.errors import N_, InputError
from layers.indicator_settings import (
    DEFAULT_STANDARDS_M,
    RASTER_COVERAGE,
    STANDARD_BASIS,
    IndicatorSettings,
)
from layers.indicators import VillageIndicators, villages_on_raster
from layers.schema import FACILITY_TYPES
from layers.zonal import PopulationGrid, ZonalPopulation

#: Target share of people within the standard distance, per facility type.
DEFAULT_SHARE_TARGETS: dict[str, float] = dict.fromkeys(FACILITY_TYPES, 0.8)
#: Target facilities per 1,000 people, where a commonly used ratio exists.
DEFAULT_PER_1000_TARGETS: dict[str, float] = {"puskesmas": 1000.0 / 30000.0}
#: What each default target rests on.
TARGET_BASIS: dict[str, str] = {
    "share": "project default: 80 % of people within the standard distance, to be agreed "
    "with the Dinas concerned",
    "puskesmas_per_1000": "commonly used planning ratio of one puskesmas per 30,000 people "
    "(Kemenkes); check the ratio the kabupaten uses",
}

#: Columns of :meth:`ServiceCoverage.table`, in order.
TABLE_COLUMNS: tuple[str, ...] = (
    "level",
    "area_kode",
    "area",
    "kecamatan",
    "kabupaten",
    "villages",
    "type",
    "standard_m",
    "people",
    "people_within",
    "share_within",
    "target_share",
    "share_met",
    "facilities",
    "per_1000",
    "target_per_1000",
    "per_1000_met",
)


class ServiceCoverage:
    """People within reach of each facility type, by village, kecamatan and kabupaten.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Canonical villages (``kode``, polygons, a CRS; ``population``, ``kecamatan``,
        ``kabupaten`` used when present).
    facilities : geopandas.GeoDataFrame
        Canonical facilities (``type``, points; ``kode`` used when present).
    population : PopulationGrid, bytes or path, optional
        Population raster (people per cell). Without it, the villages' ``population``.
    standards : mapping, optional
        Standard distance in metres per facility type (default
        :data:`layers.indicator_settings.DEFAULT_STANDARDS_M`; replaces the defaults).
    share_targets : mapping, optional
        Target share (0-1) of people within the standard, per type (default
        :data:`DEFAULT_SHARE_TARGETS`).
    per_1000_targets : mapping, optional
        Target facilities per 1,000 people, per type (default
        :data:`DEFAULT_PER_1000_TARGETS`).
    types : sequence of str, optional
        Facility types to report (default: those present in the facilities).
    crs : str, optional
        Metric CRS for distances (default: a UTM zone of the villages).
    versions : mapping, optional
        Dataset reference of each input, kept in :attr:`method`.
    zonal : ZonalPopulation, optional
        The villages' zonal population on this raster when already computed (kept in the
        store by :func:`layers.zonal_store.keep_zonal`); computed when omitted.

    Attributes
    ----------
    village, kecamatan, kabupaten : pandas.DataFrame
        After :meth:`compute`: the table of each level (see :meth:`table`).
    method : dict
        What was done: standards with their basis, targets with theirs, population source.

    Examples
    --------
    >>> cov = ServiceCoverage(villages, facilities, population=grid).compute()  # doctest: +SKIP
    >>> cov.table("kecamatan")  # doctest: +SKIP
    """

    def __init__(
        self,
        villages: gpd.GeoDataFrame,
        facilities: gpd.GeoDataFrame,
        *,
        population: PopulationGrid | bytes | str | os.PathLike | None = None,
        standards: Mapping[str, float] | None = None,
        share_targets: Mapping[str, float] | None = None,
        per_1000_targets: Mapping[str, float] | None = None,
        types: tuple[str, ...] | list[str] | None = None,
        crs: str | None = None,
        versions: Mapping[str, str] | None = None,
        zonal: ZonalPopulation | None = None,
    ) -> None:
        if not isinstance(villages, gpd.GeoDataFrame):
            raise InputError(
                N_("villages must be a GeoDataFrame, not %(type)s"),
                params={"type": type(villages).__name__},
            )
        if not isinstance(facilities, gpd.GeoDataFrame):
            raise InputError(
                N_("facilities must be a GeoDataFrame, not %(type)s"),
                params={"type": type(facilities).__name__},
            )
        self.areas = village_areas(villages)
        self.share_targets = _targets(share_targets, DEFAULT_SHARE_TARGETS, "share_targets", 1.0)
        self.per_1000_targets = _targets(
            per_1000_targets, DEFAULT_PER_1000_TARGETS, "per_1000_targets", None
        )
        settings = IndicatorSettings(
            standards_m=dict(DEFAULT_STANDARDS_M if standards is None else standards),
            types=tuple(types) if types is not None else None,
            crs=crs,
        )
        grid = population
        if population is not None and not isinstance(population, PopulationGrid):
            grid = (
                PopulationGrid.from_bytes(population)
                if isinstance(population, bytes | bytearray)
                else PopulationGrid.from_path(population)
            )
        self.grid = grid
        if zonal is not None and (
            not isinstance(zonal, ZonalPopulation) or len(zonal.population) != len(villages)
        ):
            zonal = None  # not for these villages: computed again
        self.zonal = zonal
        self.villages = villages
        self.facilities = facilities
        self.settings = settings
        self.versions = dict(versions or {})
        self.village: pd.DataFrame | None = None
        self.kecamatan: pd.DataFrame | None = None
        self.kabupaten: pd.DataFrame | None = None
        self.method: dict[str, Any] = {}

    def compute(self) -> ServiceCoverage:
        """Compute the three tables.

        Returns
        -------
        ServiceCoverage
            ``self``, with :attr:`village`, :attr:`kecamatan`, :attr:`kabupaten` set.
        """
        zonal = self.zonal
        geoms = self.villages.geometry.to_numpy()
        if self.grid is not None and zonal is None:
            zonal = villages_on_raster(geoms, self.villages.crs, self.grid)
        ind = VillageIndicators(
            self.villages,
            self.facilities,
            population=self.grid,
            settings=self.settings,
            versions={k: v for k, v in self.versions.items() if k in ("villages", "facilities")},
            zonal=zonal,
        ).compute()
        values = ind.values
        pop_table = self.areas["population"].to_numpy()
        if zonal is not None:
            use = np.isfinite(zonal.population) & (zonal.covered >= RASTER_COVERAGE)
            people = np.where(use, zonal.population, pop_table)
            source = np.where(use, "raster", "village table")
        else:
            people = pop_table
            source = np.full(len(people), "village table", dtype=object)
        types = list(ind.method.get("facilities", {}).get("types", []))
        standards = self.settings.standards_m
        parts = []
        for t in types:
            beyond = values.get(f"share_beyond__{t}")
            share = 1.0 - beyond.to_numpy() if beyond is not None else np.full(len(values), np.nan)
            frame = pd.DataFrame(
                {
                    "kode": values.index.to_numpy(dtype=object),
                    "type": t,
                    "standard_m": standards.get(t, np.nan),
                    "people": people,
                    "people_source": source,
                    "people_within": people * share,
                    "facilities": values[f"fac_count__{t}"].to_numpy(),
                }
            )
            parts.append(frame)
        long = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(
                columns=[
                    "kode",
                    "type",
                    "standard_m",
                    "people",
                    "people_source",
                    "people_within",
                    "facilities",
                ]
            )
        )
        areas = self.areas
        long = long.join(areas, on="kode")
        self.village = self._finish(
            long.assign(
                level="village",
                area_kode=long["kode"],
                area=long["name"],
                villages=1,
            )
        )
        for level, key, name in (
            ("kecamatan", "kecamatan_kode", "kecamatan"),
            ("kabupaten", "kabupaten_kode", "kabupaten"),
        ):
            grouped = long.groupby([key, "type"], sort=True, dropna=False)
            firsts = grouped[["kecamatan", "kabupaten", "standard_m"]].first()
            agg = pd.concat(
                [
                    firsts[name].rename("area"),
                    firsts,
                    grouped.size().rename("villages"),
                    grouped[["people", "people_within"]].sum(min_count=1),
                    grouped["facilities"].sum(),
                ],
                axis=1,
            ).reset_index()
            agg = agg.rename(columns={key: "area_kode"})
            if level == "kabupaten":
                agg["kecamatan"] = None
            setattr(self, level, self._finish(agg.assign(level=level)))
        self.method = {
            "distance": ind.method.get("distance"),
            "population": ind.method.get("population"),
            "standards_m": {t: standards[t] for t in types if t in standards},
            "standard_basis": {t: STANDARD_BASIS.get(t, "user setting") for t in types},
            "share_targets": {t: self.share_targets.get(t) for t in types},
            "per_1000_targets": {
                t: self.per_1000_targets[t] for t in types if t in self.per_1000_targets
            },
            "target_basis": dict(TARGET_BASIS),
            "notes": ind.method.get("notes", []),
            "versions": dict(self.versions),
        }
        return self

    def _finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        people = out["people"].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["share_within"] = np.where(people > 0, out["people_within"] / people, np.nan)
            out["per_1000"] = np.where(people > 0, out["facilities"] * 1000.0 / people, np.nan)
        out["target_share"] = out["type"].map(self.share_targets).astype(np.float64)
        out["target_per_1000"] = out["type"].map(self.per_1000_targets).astype(np.float64)
        out["share_met"] = _met(out["share_within"], out["target_share"])
        out["per_1000_met"] = _met(out["per_1000"], out["target_per_1000"])
        for col in ("level", "area_kode", "area", "kecamatan", "kabupaten", "type"):
            values = out[col].to_numpy(dtype=object)
            out[col] = pd.Series(
                np.where(pd.isna(values), None, values), index=out.index, dtype="object"
            )
        if "people_source" in out.columns:
            out["people_source"] = out["people_source"].astype("object")
        out["facilities"] = out["facilities"].astype(np.int64)
        out["villages"] = out["villages"].astype(np.int64)
        cols = list(TABLE_COLUMNS)
        if "people_source" in out.columns:
            cols.insert(cols.index("people") + 1, "people_source")
        return out.loc[:, cols].reset_index(drop=True)

    def table(self, level: str = "village") -> pd.DataFrame:
        """The coverage table of one level (one row per area and facility type).

        Columns: ``level``, ``area_kode``, ``area``, ``kecamatan``, ``kabupaten``,
        ``villages``, ``type``, ``standard_m``, ``people``, (village level:
        ``people_source``), ``people_within``, ``share_within`` (= people_within /
        people), ``target_share``, ``share_met``, ``facilities``, ``per_1000`` (=
        facilities * 1000 / people), ``target_per_1000``, ``per_1000_met`` (None when no
        target).

        Parameters
        ----------
        level : {"village", "kecamatan", "kabupaten"}
            Which table.
        """
        check_level(level)
        if self.village is None:
            raise InputError(N_("call compute() before reading the coverage table"))
        return getattr(self, level).copy()


def _met(values: pd.Series, target: pd.Series) -> pd.Series:
    """``values >= target`` as a nullable boolean (missing where either is missing)."""
    met = pd.array(values.to_numpy() >= target.to_numpy(), dtype="boolean")
    met[values.isna().to_numpy() | target.isna().to_numpy()] = pd.NA
    return pd.Series(met, index=values.index)


def _targets(
    given: Mapping[str, float] | None,
    default: Mapping[str, float],
    what: str,
    maximum: float | None,
) -> dict[str, float]:
    if given is None:
        return dict(default)
    if not isinstance(given, Mapping):
        raise InputError(
            N_("%(what)s must map facility types to numbers, not %(type)s"),
            params={"what": what, "type": type(given).__name__},
        )
    out = {}
    for key, value in given.items():
        if key not in FACILITY_TYPES:
            raise InputError(
                N_("unknown facility type %(type)r in %(what)s; known: %(known)s"),
                params={"type": key, "what": what, "known": ", ".join(FACILITY_TYPES)},
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number) or number < 0 or (maximum is not None and number > maximum):
            raise InputError(
                N_(
                    "the %(what)s target for %(type)s must be a number from 0%(upper)s, "
                    "not %(value)r"
                ),
                params={
                    "what": what,
                    "type": key,
                    "value": value,
                    "upper": "" if maximum is None else f" to {maximum:g}",
                },
            )
        out[key] = number
    return out


__all__ = [
    "DEFAULT_PER_1000_TARGETS",
    "DEFAULT_SHARE_TARGETS",
    "LEVELS",
    "TABLE_COLUMNS",
    "TARGET_BASIS",
    "ServiceCoverage",
]
