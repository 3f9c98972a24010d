"""Indicators per village: people, facilities, access, reported needs and village tables.

:class:`VillageIndicators` turns the layers of a workspace into one table with a row per
village (indexed by ``kode``) and a float column per indicator, named as the rest of the
project expects (``group__detail``, see ``docs/indicators.md``):

* ``population`` (village table) and ``population_raster`` (zonal sum of a population
  raster, :mod:`layers.zonal`);
* ``fac_count__<type>``, ``fac_per_1000__<type>``: facilities in the village, counted by
  the code each facility was given at import (points without a code are placed here);
* ``dist_m__<type>``: metres to the nearest facility of the type, in a metric CRS, from a
  point inside the village or, with a population raster, averaged over the village's
  people (cell by cell);
* ``share_beyond__<type>``: share of the village's people farther than a standard distance;
* ``needs__<category>``, ``needs_weighted__<category>``, ``needs_per_1000__<category>``,
  ``needs_weighted__all``, ``needs_per_1000__all``, ``needs_open``, ``needs_addressed``;
* ``<table>__<column>`` for every numeric column of an indicator table (PODES, IDM, ...).

Every step is vectorised over villages, facilities, needs and raster cells (numpy
``bincount``, pandas indexers, scipy KD-trees, shapely 2), so a national set (84,000
villages, 300,000 facilities, 1,000,000 needs) and a province-wide raster take seconds.
What was done, and every row that could not be used, is recorded in ``.method``.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse
import shapely
from scipy.spatial import cKDTree

from layers.crs import metric_crs
from layers.errors import N_, InputError, fill
from layers.indicator_inputs import (
    check_vocabulary,
    crs_of,
    projected_points,
    require_columns,
    text_codes,
    village_positions,
)
from layers.indicator_settings import (
    ADDRESSED_STATUSES,
    DEFAULT_STANDARDS_M,
    OPEN_STATUSES,
    PERIOD_COLUMNS,
    RASTER_COVERAGE,
    SENTINELS,
    STANDARD_BASIS,
    IndicatorSettings,
    as_metric_crs,
    podes_distance_columns,
)
from layers.schema import (
    FACILITY_TYPE_LABELS,
    FACILITY_TYPES,
    NEED_CATEGORIES,
    NEED_CATEGORY_LABELS,
    NEED_STATUSES,
)
from layers.zonal import (
    PointGroups,
    PopulationGrid,
    ZonalPopulation,
    cell_blocks,
    cell_centres,
    nearest_distance,
    zonal_population,
)

__all__ = [
    "ADDRESSED_STATUSES",
    "DEFAULT_STANDARDS_M",
    "OPEN_STATUSES",
    "PERIOD_COLUMNS",
    "SENTINELS",
    "STANDARD_BASIS",
    "IndicatorSettings",
    "VillageIndicators",
    "podes_distance_columns",
    "villages_on_raster",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
#: Table columns that identify rather than measure (``id_kecamatan``, ``kode_bps``): no indicator.
IDENTIFIER_COLUMNS = re.compile(r"(id|kode|kd)(_.*)?", re.IGNORECASE)

#: Label template and unit by indicator group (the id before ``__``, or the whole id).
LABELS: dict[str, tuple[str, str]] = {
    "population": (N_("Population (village table)"), "people"),
    "population_raster": (N_("Population (raster)"), "people"),
    "fac_count": (N_("Facilities of type %(type)s in the village"), "count"),
    "fac_per_1000": (N_("Facilities of type %(type)s per 1,000 people"), "per 1,000 people"),
    "dist_m": (N_("Distance to the nearest %(type)s"), "m"),
    "share_beyond": (N_("Share of people farther than %(standard)s m from a %(type)s"), "share"),
    "needs": (N_("Needs reported: %(category)s"), "count"),
    "needs_weighted": (N_("Severity-weighted needs: %(category)s"), "count"),
    "needs_weighted__all": (N_("Severity-weighted needs, all categories"), "count"),
    "needs_per_1000": (
        N_("Severity-weighted needs per 1,000 people: %(category)s"),
        "per 1,000 people",
    ),
    "needs_per_1000__all": (
        N_("Severity-weighted needs per 1,000 people, all categories"),
        "per 1,000 people",
    ),
    "needs_open": (N_("Open needs (open, verified or in progress)"), "count"),
    "needs_addressed": (N_("Addressed needs (addressed or closed)"), "count"),
    "table": (N_("%(column)s (%(dataset)s)"), "value"),
}
#: Catalogue group of the ids that have no ``__``.
GROUPS = {"population_raster": "population", "needs_open": "needs", "needs_addressed": "needs"}


def _note(template: str, **params: Any) -> dict[str, Any]:
    return {"template": template, "params": params}


# --- the analysis ----------------------------------------------------------------------


def villages_on_raster(geoms: np.ndarray, crs: Any, grid: PopulationGrid) -> ZonalPopulation:
    """Zonal population of every village: people per village and the cells each holds.

    Only villages whose bounding box meets the raster are measured (the others get NaN
    people and 0 coverage), in the raster's CRS, with :func:`layers.zonal.zonal_population`.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely Polygons/MultiPolygons
        Village polygons in ``crs``.
    crs : pyproj.CRS or str
        Their CRS.
    grid : PopulationGrid
        The population raster.

    Returns
    -------
    ZonalPopulation
        With one ``population`` and ``covered`` value per village and pairs whose
        ``village`` is a position in ``geoms``. It depends only on the villages and the
        raster, so it can be kept and passed again as ``VillageIndicators(zonal=...)``.
    """
    if not isinstance(grid, PopulationGrid):
        raise ValueError(f"grid must be a PopulationGrid, not {type(grid).__name__}")
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    minx, miny, maxx, maxy = pyproj.Transformer.from_crs(
        grid.crs, crs, always_xy=True
    ).transform_bounds(*grid.bounds)
    b = shapely.bounds(geoms)
    near = np.flatnonzero((b[:, 0] < maxx) & (b[:, 2] > minx) & (b[:, 1] < maxy) & (b[:, 3] > miny))
    sub = gpd.GeoSeries(geoms[near], crs=crs)
    if not pyproj.CRS(sub.crs).equals(grid.crs):
        sub = sub.to_crs(grid.crs)
    z = zonal_population(sub.to_numpy(), grid)
    population = np.full(n, np.nan)
    population[near] = z.population
    covered = np.zeros(n)
    covered[near] = z.covered
    return ZonalPopulation(
        population=population,
        covered=covered,
        cell=z.cell,
        village=near[z.village],
        share=z.share,
        weight=z.weight,
        notes=z.notes,
    )


class VillageIndicators:
    """Per-village indicators from villages, facilities, needs, tables and a raster.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Canonical villages: ``kode`` (text, unique), Polygon/MultiPolygon geometry, a CRS,
        and optionally ``population`` (people, may be NaN).
    facilities : geopandas.GeoDataFrame, optional
        Canonical facilities: ``type`` (a key of ``schema.FACILITY_TYPES``), Point
        geometry, and optionally ``kode`` (the village each point was placed in at import).
    needs : pandas.DataFrame or geopandas.GeoDataFrame, optional
        Canonical needs: ``category``, ``severity`` (1-5), ``reported_date``, optionally
        ``status``, ``kode`` and Point geometry (rows without geometry use their code).
    population : PopulationGrid, bytes or path, optional
        Population raster (people per cell): a grid, GeoTIFF bytes or a GeoTIFF path.
    tables : mapping of str to pandas.DataFrame, optional
        Indicator tables by dataset name, each with ``kode`` and numeric columns.
    settings : IndicatorSettings, optional
        Standards, decay, reference date, types, CRS (defaults otherwise).
    versions : mapping of str to str, optional
        Dataset reference of each input (``{"villages": "ws/villages@3", "podes": ...}``),
        keyed by ``villages``, ``facilities``, ``needs``, ``population`` or a table name;
        kept in :attr:`versions` and in the catalogue's sources.

    Attributes
    ----------
    values : pandas.DataFrame
        After :meth:`compute`: one row per village (index ``kode``, text, in the villages'
        order), one float column per indicator.
    catalogue : pandas.DataFrame
        After :meth:`compute`: ``id``, ``label`` (English template marked for translation),
        ``params`` (the template's parameters), ``unit``, ``group``, ``source`` (tuple of
        dataset references).
    versions : dict
        Dataset reference of each input given.
    crs : pyproj.CRS
        The metric CRS distances are measured in.
    method : dict
        After :meth:`compute`: what was done and what could not be used (counts), JSON-
        friendly; ``notes`` holds message templates with parameters.

    Raises
    ------
    InputError
        When a layer lacks a required column, has codes that are not text or not unique,
        geometries of the wrong type, or no CRS.

    Examples
    --------
    >>> result = VillageIndicators(villages, facilities, needs).compute()  # doctest: +SKIP
    >>> result.values["dist_m__puskesmas"]  # doctest: +SKIP
    """

    def __init__(
        self,
        villages: gpd.GeoDataFrame,
        facilities: gpd.GeoDataFrame | None = None,
        needs: pd.DataFrame | None = None,
        *,
        population: PopulationGrid | bytes | str | os.PathLike | None = None,
        tables: Mapping[str, pd.DataFrame] | None = None,
        settings: IndicatorSettings | None = None,
        versions: Mapping[str, str] | None = None,
        zonal: ZonalPopulation | None = None,
    ) -> None:
        self.settings = IndicatorSettings() if settings is None else settings
        if not isinstance(self.settings, IndicatorSettings):
            raise ValueError(f"settings must be IndicatorSettings, not {type(settings).__name__}")
        self._check_villages(villages)
        self.villages = villages
        self.codes = text_codes(villages["kode"], "villages", required=True).to_numpy(dtype=object)
        dup = pd.Index(self.codes).duplicated()
        if dup.any():
            shown = sorted(set(self.codes[dup]))[:5]
            raise InputError(
                N_("village codes must be unique; %(count)s repeat, e.g. %(codes)s"),
                column="kode",
                params={"count": int(dup.sum()), "codes": ", ".join(shown)},
            )
        self.facilities = self._check_facilities(facilities)
        self.needs = self._check_needs(needs)
        self.population = self._check_population(population)
        if zonal is not None and (
            not isinstance(zonal, ZonalPopulation) or len(zonal.population) != len(villages)
        ):
            raise ValueError(
                "zonal must be the villages_on_raster() result for these villages "
                f"({len(villages)} of them)"
            )
        if zonal is not None and self.population is None:
            raise ValueError("zonal needs the population raster it was computed from")
        self.zonal = zonal
        self.tables = self._check_tables(tables)
        self.versions = self._check_versions(versions)
        self.crs = as_metric_crs(self.settings.crs) if self.settings.crs else metric_crs(villages)
        self.values: pd.DataFrame | None = None
        self.catalogue: pd.DataFrame | None = None
        self.method: dict[str, Any] = {}

    # --- validation ------------------------------------------------------------------

    @staticmethod
    def _check_villages(villages: Any) -> None:
        if not isinstance(villages, gpd.GeoDataFrame):
            raise ValueError(f"villages must be a GeoDataFrame, not {type(villages).__name__}")
        if len(villages) == 0:
            raise InputError(N_("the villages layer has no rows"))
        require_columns(villages, "villages", ("kode",))
        if villages.crs is None:
            raise InputError(
                N_(
                    "the %(layer)s layer has no coordinate reference system; "
                    "set one (EPSG:4326 as stored)"
                ),
                params={"layer": "villages"},
            )
        geoms = villages.geometry.to_numpy()
        bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        kinds = shapely.get_type_id(geoms)
        bad |= ~np.isin(kinds, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
        if bad.any():
            raise InputError(
                N_("%(count)s villages have no polygon geometry (e.g. %(codes)s)"),
                params={
                    "count": int(bad.sum()),
                    "codes": ", ".join(map(str, villages["kode"].to_numpy()[bad][:5])),
                },
            )
        if "population" in villages.columns:
            pop = villages["population"]
            if not pd.api.types.is_numeric_dtype(pop) or pd.api.types.is_bool_dtype(pop):
                raise InputError(
                    N_("village population must be numbers of people, found %(dtype)s"),
                    column="population",
                    params={"dtype": str(pop.dtype)},
                )
            if (pop < 0).any():
                raise InputError(
                    N_("%(count)s villages have a negative population"),
                    column="population",
                    params={"count": int((pop < 0).sum())},
                )

    def _check_facilities(self, facilities: Any) -> gpd.GeoDataFrame | None:
        if facilities is None:
            return None
        if not isinstance(facilities, gpd.GeoDataFrame):
            raise ValueError(f"facilities must be a GeoDataFrame, not {type(facilities).__name__}")
        require_columns(facilities, "facilities", ("type",))
        check_vocabulary(facilities["type"], tuple(FACILITY_TYPES), "facilities", "type")
        self._fac_codes = (
            text_codes(facilities["kode"], "facilities", required=False)
            if "kode" in facilities.columns
            else None
        )
        self._fac_points = projected_points(facilities, "facilities", self.villages.crs)
        return facilities

    def _check_needs(self, needs: Any) -> pd.DataFrame | None:
        if needs is None:
            return None
        if not isinstance(needs, pd.DataFrame):
            raise ValueError(f"needs must be a DataFrame, not {type(needs).__name__}")
        require_columns(needs, "needs", ("category", "severity", "reported_date"))
        check_vocabulary(needs["category"], NEED_CATEGORIES, "needs", "category")
        if "status" in needs.columns:
            check_vocabulary(needs["status"], NEED_STATUSES, "needs", "status")
        severity = needs["severity"]
        if not pd.api.types.is_numeric_dtype(severity) or pd.api.types.is_bool_dtype(severity):
            raise InputError(
                N_("needs severity must be a number from 1 to 5, found %(dtype)s"),
                column="severity",
                params={"dtype": str(severity.dtype)},
            )
        sev = severity.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(sev, [1, 2, 3, 4, 5])
        if bad.any():
            raise InputError(
                N_(
                    "%(count)s needs have a severity that is not a whole number from 1 to 5 (e.g. "
                    "%(value)s)"
                ),
                column="severity",
                params={"count": int(bad.sum()), "value": sev[bad][0]},
            )
        dates = needs["reported_date"]
        if not pd.api.types.is_datetime64_any_dtype(dates):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
                    dates = pd.to_datetime(dates)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    N_("needs reported_date must hold dates: %(reason)s"),
                    column="reported_date",
                    params={"reason": str(exc)},
                ) from exc
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_localize(None)
        self._need_dates = dates.to_numpy().astype("datetime64[D]")
        self._need_codes = (
            text_codes(needs["kode"], "needs", required=False) if "kode" in needs.columns else None
        )
        if self._need_codes is None and crs_of(needs, "needs") is None:
            raise InputError(
                N_("the needs layer has neither village codes (kode) nor point geometry"),
            )
        self._need_points = projected_points(needs, "needs", self.villages.crs)
        return needs

    @staticmethod
    def _check_population(population: Any) -> PopulationGrid | None:
        if population is None or isinstance(population, PopulationGrid):
            return population
        if isinstance(population, bytes | bytearray | memoryview):
            return PopulationGrid.from_bytes(bytes(population))
        if isinstance(population, str | os.PathLike):
            return PopulationGrid.from_path(population)
        raise ValueError(
            f"population must be a PopulationGrid, GeoTIFF bytes or a path, not "
            f"{type(population).__name__}"
        )

    @staticmethod
    def _check_tables(tables: Any) -> dict[str, pd.DataFrame]:
        if tables is None:
            return {}
        if not isinstance(tables, Mapping):
            raise ValueError(
                f"tables must map a dataset name to a DataFrame, not {type(tables).__name__}"
            )
        for name, frame in tables.items():
            reserved = name in LABELS or name in GROUPS if isinstance(name, str) else False
            if not isinstance(name, str) or not _NAME.fullmatch(name) or "__" in name or reserved:
                raise InputError(
                    N_(
                        "%(name)r cannot name an indicator table: use letters, digits, "
                        "- and single _, and no name of an indicator group"
                    ),
                    params={"name": name},
                )
            if not isinstance(frame, pd.DataFrame):
                raise ValueError(f"table {name!r} must be a DataFrame, not {type(frame).__name__}")
            require_columns(frame, f"{name} table", ("kode",))
            codes = text_codes(frame["kode"], f"{name} table", required=False).dropna()
            period = next((c for c in frame.columns if str(c).lower() in PERIOD_COLUMNS), None)
            dup = codes.duplicated()
            if period is None and dup.any():
                raise InputError(
                    N_(
                        "the %(name)s table has %(count)s repeated village codes (e.g. %(codes)s) "
                        "and no period column (%(periods)s) to tell them apart"
                    ),
                    column="kode",
                    params={
                        "name": name,
                        "count": int(dup.sum()),
                        "codes": ", ".join(sorted(set(codes[dup].astype(str)))[:5]),
                        "periods": ", ".join(PERIOD_COLUMNS),
                    },
                )
        return dict(tables)

    def _check_versions(self, versions: Any) -> dict[str, str]:
        if versions is None:
            return {}
        if not isinstance(versions, Mapping):
            raise ValueError(f"versions must map an input to a dataset reference, not {versions!r}")
        given = {"villages"}
        given |= {
            k for k, v in (("facilities", self.facilities), ("needs", self.needs)) if v is not None
        }
        given |= {"population"} if self.population is not None else set()
        given |= set(self.tables)
        unknown = sorted(set(versions) - given)
        if unknown:
            raise ValueError(f"versions name inputs not given: {unknown}; inputs: {sorted(given)}")
        return {str(k): str(v) for k, v in versions.items()}

    # --- computing -------------------------------------------------------------------

    def _ref(self, *keys: str) -> tuple[str, ...]:
        return tuple(self.versions.get(k, k) for k in keys)

    def compute(self) -> VillageIndicators:
        """Compute every indicator the inputs allow.

        Returns
        -------
        VillageIndicators
            ``self``, with :attr:`values`, :attr:`catalogue` and :attr:`method` set.
        """
        clock = {"start": time.perf_counter()}

        def lap(name: str) -> None:
            now = time.perf_counter()
            seconds[name] = round(now - clock["start"], 3)
            clock["start"] = now

        seconds: dict[str, float] = {}
        as_of = self.settings.as_of or date.today()
        self._columns: dict[str, np.ndarray] = {}
        self._rows: list[dict[str, Any]] = []
        self.method = {
            "crs": self.crs.to_string(),
            "as_of": as_of.isoformat(),
            "settings": self.settings.to_dict(),
            "notes": [],
        }
        index = pd.Index(self.codes.astype(str), name="kode")
        geoms = self.villages.geometry.to_numpy()
        to_metric = pyproj.Transformer.from_crs(self.villages.crs, self.crs, always_xy=True)
        inner = shapely.point_on_surface(geoms)
        self._rep = np.column_stack(to_metric.transform(shapely.get_x(inner), shapely.get_y(inner)))
        lap("representative_points")

        n = len(index)
        pop = (
            self.villages["population"].to_numpy(dtype=np.float64, na_value=np.nan)
            if "population" in self.villages.columns
            else np.full(n, np.nan)
        )
        self._add("population", pop, self._ref("villages"))
        self._raster = None
        denominator = pop
        pop_refs: tuple[str, ...] = self._ref("villages")
        if self.population is not None:
            self._raster = self._zonal(geoms)
            zonal = self._raster
            self._add("population_raster", zonal["population"], self._ref("population"))
            use = zonal["use"]
            denominator = np.where(use, zonal["population"], pop)
            pop_refs = self._ref("villages", "population")
            self.method["population"] = {
                "rule": "raster where the village lies on it (at least 99 % of its area), "
                "else the village table",
                "villages_raster": int(use.sum()),
                "villages_table": int((~use & np.isfinite(pop)).sum()),
                "villages_missing": int((~np.isfinite(denominator)).sum()),
            }
            lap("zonal")
        else:
            self.method["population"] = {
                "rule": "village table",
                "villages_table": int(np.isfinite(pop).sum()),
                "villages_missing": int((~np.isfinite(pop)).sum()),
            }
        self._per_1000 = np.where(
            denominator > 0, 1000.0 / np.where(denominator > 0, denominator, 1), np.nan
        )
        self._pop_refs = pop_refs

        if self.facilities is not None:
            self._facility_indicators(index, geoms)
            lap("facilities")
        if self.needs is not None:
            self._needs_indicators(index, geoms, as_of)
            lap("needs")
        self.method["tables"] = {}
        for name, frame in self.tables.items():
            self._table_indicators(index, name, frame)
        if self.tables:
            lap("tables")

        self.values = pd.DataFrame(self._columns, index=index)
        self.catalogue = pd.DataFrame(
            self._rows, columns=["id", "label", "params", "unit", "group", "source"]
        )
        self.method["seconds"] = seconds
        return self

    def _add(
        self, name: str, values: np.ndarray, source: tuple[str, ...], *, unit: str | None = None,
        **params: Any,
    ) -> None:  # fmt: skip
        """Add an indicator column and its catalogue row (label and unit from LABELS)."""
        group = GROUPS.get(name, name.split("__")[0])
        label, default_unit = LABELS.get(name) or LABELS.get(group) or LABELS["table"]
        self._columns[name] = np.asarray(values, dtype=np.float64)
        self._rows.append(
            {"id": name, "label": label, "params": params, "unit": unit or default_unit,
             "group": group, "source": source}
        )  # fmt: skip

    def _zonal(self, geoms: np.ndarray) -> dict[str, Any]:
        """Zonal population and the populated (cell, village) pairs in the metric CRS."""
        grid = self.population
        n = len(geoms)
        z = self.zonal
        if z is None:
            z = villages_on_raster(geoms, self.villages.crs, grid)
        population, covered = z.population, z.covered
        use = np.isfinite(population) & (covered >= RASTER_COVERAGE)
        keep = z.weight > 0
        village = z.village[keep]
        # The populated cells, each once, in cell order (a mark and a running count: no sort).
        mark = np.zeros(grid.array.size, dtype=bool)
        mark[z.cell[keep]] = True
        cells = np.flatnonzero(mark)
        cell_of_pair = (np.cumsum(mark) - 1)[z.cell[keep]]
        x, y = cell_centres(grid, cells)
        to_metric = pyproj.Transformer.from_crs(grid.crs, self.crs, always_xy=True)
        xy = np.column_stack(to_metric.transform(x, y))
        self.method["zonal"] = {
            "method": "exact area-weighted: whole cells by the cell-centre rule, cells crossed "
            "by a boundary split by intersection area; nodata and negative cells count as 0",
            "raster_crs": grid.crs.to_string(),
            "cell_size": [abs(grid.transform.a), abs(grid.transform.e)],
            **z.notes,
            "villages_off_raster": int(n - np.isfinite(population).sum()),
            "reused": self.zonal is not None,
        }
        # People of each populated cell in each village: a sparse (villages x cells) matrix,
        # so per-village sums over cells are one product per facility type.
        people = scipy.sparse.csr_array(
            (z.weight[keep], (village, cell_of_pair)), shape=(n, len(cells))
        )
        return {
            "population": population,
            "use": use,
            "people": people,
            "xy": xy,
            "groups": PointGroups.build(xy, cell_blocks(grid, cells)),
        }

    def _facility_indicators(self, index: pd.Index, geoms: np.ndarray) -> None:
        fac = self.facilities
        s = self.settings
        n = len(index)
        present = [t for t in FACILITY_TYPES if t in set(fac["type"].unique())]
        chosen = list(s.types) if s.types is not None else present
        points = self._fac_points
        pos, stats = village_positions(self._fac_codes, points, index, geoms)
        to_metric = pyproj.Transformer.from_crs(self.villages.crs, self.crs, always_xy=True)
        fx, fy = to_metric.transform(shapely.get_x(points), shapely.get_y(points))
        located = np.isfinite(fx) & np.isfinite(fy)
        stats["without_geometry"] = int((~located).sum())
        stats["types"] = chosen
        self.method["facilities"] = stats
        raster = self._raster
        dist_method = {"representative_point": int(n)}
        if raster is not None:
            # Villages the raster covers, with people on it: distances over their cells.
            people = raster["people"].sum(axis=1)
            weighted_here = raster["use"] & (people > 0)
            people = np.where(weighted_here, people, 1.0)
            dist_method = {
                "representative_point": int((~weighted_here).sum()),
                "population_weighted": int(weighted_here.sum()),
            }
        self.method["distance"] = {
            "method": f"metres in {self.crs.to_string()} from a point inside the village "
            "(shapely point_on_surface)"
            + (
                "; where the raster gives the village's people, the people-weighted mean of "
                "each populated cell centre's distance"
                if raster is not None
                else ""
            ),
            "villages": dist_method,
        }
        self.method["share_beyond"] = {
            "method": "share of the raster's people in the village whose cell centre is farther "
            "than the standard; without raster people, 1 when the village's inner point is "
            "farther, else 0",
            "standards_m": {t: s.standards_m[t] for t in chosen if t in s.standards_m},
            "no_standard": [t for t in chosen if t not in s.standards_m],
        }
        refs = self._ref("facilities", "villages")
        dist_refs = refs + (self._ref("population") if raster is not None else ())
        kind = pd.Index(chosen).get_indexer(fac["type"])
        k = len(chosen)
        placed = pos >= 0
        flat = pos[placed] * k + kind[placed]
        counts = np.bincount(flat[kind[placed] >= 0], minlength=n * k).reshape(n, k)
        counts = counts.astype(np.float64)
        for j, t in enumerate(chosen):
            self._add(f"fac_count__{t}", counts[:, j], refs, type=t)
        for j, t in enumerate(chosen):
            per_1000 = counts[:, j] * self._per_1000
            self._add(f"fac_per_1000__{t}", per_1000, refs + self._pop_refs[1:], type=t)
        distances, shares = {}, {}
        for j, t in enumerate(chosen):
            xy = np.column_stack([fx[located & (kind == j)], fy[located & (kind == j)]])
            standard = s.standards_m.get(t)
            if len(xy) == 0:
                self.method["notes"].append(
                    _note(N_("no %(type)s has a location, so its distances are unknown"), type=t)
                )
                distances[t] = np.full(n, np.nan)
                shares[t] = np.full(n, np.nan)
                continue
            tree = cKDTree(xy)
            dist = tree.query(self._rep, workers=-1)[0]
            share = np.where(dist > standard, 1.0, 0.0) if standard else None
            if raster is not None:
                cell_d = nearest_distance(xy, raster["xy"], raster["groups"], tree=tree)
                mean = (raster["people"] @ cell_d) / people
                dist = np.where(weighted_here, mean, dist)
                if standard:
                    far = raster["people"] @ (cell_d > standard).astype(np.float64)
                    share = np.where(weighted_here, far / people, share)
            distances[t] = dist
            shares[t] = share
        for t in chosen:
            self._add(f"dist_m__{t}", distances[t], dist_refs, type=t)
        for t in chosen:
            if t in s.standards_m:
                # No thousands separator: "5,000" reads as 5 in Indonesian.
                standard = f"{s.standards_m[t]:.0f}"
                self._add(f"share_beyond__{t}", shares[t], dist_refs, type=t, standard=standard)

    def _needs_indicators(self, index: pd.Index, geoms: np.ndarray, as_of: date) -> None:
        needs = self.needs
        s = self.settings
        n = len(index)
        pos, stats = village_positions(self._need_codes, self._need_points, index, geoms)
        dates = self._need_dates
        undated = np.isnat(dates)
        age = (np.datetime64(as_of, "D") - dates).astype("timedelta64[D]").astype(np.float64)
        age[undated] = 0.0  # kept at full weight, and counted
        future = age < 0
        if "status" in needs.columns:
            no_status = needs["status"].isna().to_numpy()
            addressed = needs["status"].isin(ADDRESSED_STATUSES).to_numpy()
        else:
            no_status = np.ones(len(needs), dtype=bool)
            addressed = np.zeros(len(needs), dtype=bool)
        used = (pos >= 0) & ~future
        counted = used & (s.include_addressed | ~addressed)
        severity = needs["severity"].to_numpy(dtype=np.float64, na_value=np.nan)
        weight = severity
        if s.half_life_days is not None:
            weight = severity * np.power(0.5, age / s.half_life_days)
        cat = pd.Index(NEED_CATEGORIES).get_indexer(needs["category"])
        k = len(NEED_CATEGORIES)
        flat = pos[counted] * k + cat[counted]
        count = np.bincount(flat, minlength=n * k).reshape(n, k).astype(np.float64)
        weighted = np.bincount(flat, weights=weight[counted], minlength=n * k).reshape(n, k)
        stats.update(
            {
                "after_as_of": int(future.sum()),
                "undated": int(undated.sum()),
                "status_missing": int(no_status.sum()),
                "addressed_left_out": 0 if s.include_addressed else int((used & addressed).sum()),
                "counted": int(counted.sum()),
                "weight": "severity"
                + (f" * 0.5 ** (age_days / {s.half_life_days:g})" if s.half_life_days else ""),
            }
        )
        self.method["needs"] = stats
        if future.any():
            self.method["notes"].append(
                _note(N_("%(count)s needs reported after %(date)s were left out"),
                      count=int(future.sum()), date=as_of.isoformat())
            )  # fmt: skip
        refs = self._ref("needs", "villages")
        per = refs + self._pop_refs[1:]
        for j, c in enumerate(NEED_CATEGORIES):
            self._add(f"needs__{c}", count[:, j], refs, category=c)
        for j, c in enumerate(NEED_CATEGORIES):
            self._add(f"needs_weighted__{c}", weighted[:, j], refs, category=c)
        total = weighted.sum(axis=1)
        self._add("needs_weighted__all", total, refs)
        for j, c in enumerate(NEED_CATEGORIES):
            self._add(f"needs_per_1000__{c}", weighted[:, j] * self._per_1000, per, category=c)
        self._add("needs_per_1000__all", total * self._per_1000, per)
        opened = np.bincount(pos[used & ~addressed], minlength=n).astype(np.float64)
        self._add("needs_open", opened, refs)
        done = np.bincount(pos[used & addressed], minlength=n).astype(np.float64)
        self._add("needs_addressed", done, refs)

    def _table_indicators(self, index: pd.Index, name: str, frame: pd.DataFrame) -> None:
        s = self.settings
        codes = frame["kode"].to_numpy(dtype=object)
        info: dict[str, Any] = {"rows": len(frame)}
        period = next((c for c in frame.columns if str(c).lower() in PERIOD_COLUMNS), None)
        keep = ~pd.isna(codes)
        info["rows_without_code"] = int((~keep).sum())
        frame = frame.iloc[np.flatnonzero(keep)]
        codes = codes[keep].astype(str)
        if period is not None:
            # A long table: one row per village and period; the latest period is used.
            order = np.lexsort(
                (pd.to_numeric(frame[period], errors="coerce").fillna(-np.inf), codes)
            )
            last = np.ones(len(order), dtype=bool)
            last[:-1] = codes[order][1:] != codes[order][:-1]
            chosen = order[last]
            info["period_column"] = str(period)
            used = frame[period].iloc[chosen].dropna()
            info["periods"] = sorted({f"{v:g}" if isinstance(v, float) else str(v) for v in used})
            frame, codes = frame.iloc[chosen], codes[chosen]
        pos = index.get_indexer(codes)
        unmatched = pos < 0
        info["matched"] = int((~unmatched).sum())
        info["unmatched_codes"] = int(unmatched.sum())
        info["unmatched_examples"] = sorted(codes[unmatched])[:5]
        if unmatched.any():
            self.method["notes"].append(
                _note(N_("%(count)s codes of the %(name)s table match no village"),
                      count=int(unmatched.sum()), name=name)
            )  # fmt: skip
        extra = {c.lower() for c in s.distance_columns}
        ignored, sentinels = [], {}
        refs = self._ref(name, "villages")
        for column in frame.columns:
            if column in ("kode", period):
                continue
            if IDENTIFIER_COLUMNS.fullmatch(str(column)):
                ignored.append(str(column))
                continue
            series = frame[column]
            if pd.api.types.is_bool_dtype(series):
                series = series.astype(np.float64)
            if not pd.api.types.is_numeric_dtype(series):
                ignored.append(str(column))
                continue
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            distance = "jarak" in str(column).lower() or str(column).lower() in extra
            if distance:
                hit = np.zeros(len(values), dtype=bool)
                for sentinel in SENTINELS:
                    hit |= np.isclose(values, sentinel, rtol=0, atol=1e-6)
                values = np.where(hit, np.nan, values)
                sentinels[str(column)] = int(hit.sum())
            out = np.full(len(index), np.nan)
            out[pos[~unmatched]] = values[~unmatched]
            unit = "km" if distance else "value"
            self._add(f"{name}__{column}", out, refs, unit=unit, column=str(column), dataset=name)
        info["ignored_columns"] = ignored
        info["sentinels_replaced"] = sentinels
        info["sentinel_rule"] = "99.9 and 99 in distance columns mean very far or unknown: NaN"
        self.method["tables"][name] = info

    def labels(self, gettext: Callable[[str], str] | None = None) -> pd.Series:
        """Indicator labels filled in, in the language of ``gettext`` (English without).

        Parameters
        ----------
        gettext : callable, optional
            Translation function (e.g. ``flask_babel.gettext``).

        Returns
        -------
        pandas.Series
            Label by indicator id.
        """
        if self.catalogue is None:
            raise ValueError("call compute() first")
        tr = gettext or (lambda text: text)
        names = {"type": FACILITY_TYPE_LABELS, "category": NEED_CATEGORY_LABELS}

        def named(params: dict[str, Any]) -> dict[str, Any]:
            # Facility types and need categories are shown by their names, translated.
            return {
                k: tr(names[k][v]) if k in names and v in names[k] else v
                for k, v in (params or {}).items()
            }

        return pd.Series(
            [fill(r.label, named(r.params), tr) for r in self.catalogue.itertuples()],
            index=pd.Index(self.catalogue["id"], name="id"),
            name="label",
        )
