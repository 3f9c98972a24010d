"""Village indicators computed the plain GeoPandas way: the baseline of the scoring benchmark.

This is how a competent analyst would compute the indicators of ``docs/indicators.md`` for
the synthetic data set with the usual tools and no special effort either way:

* ``geopandas.read_file`` of each GeoPackage (only the columns needed, through Arrow);
* source labels (``Posyandu``, ``air bersih``, ``baru``) mapped onto the canonical types,
  categories and statuses with the vocabularies of :mod:`layers.schema`;
* facility counts per village: ``geopandas.sjoin`` (points within villages) and
  ``groupby``; the same for needs per category, their severity-weighted (and, when a half
  life is given, recency-decayed) sums and the open/addressed counts. As in
  ``layers.indicators``, the per-category counts and sums leave out needs already
  addressed or closed (unless ``include_addressed``) and needs reported after ``as_of``;
* distance to the nearest facility of each type: ``geopandas.sjoin_nearest`` from the
  villages' representative points, both layers projected to the metric CRS that
  :func:`layers.crs.metric_crs` chooses (the Indonesia Albers equal-area CRS nationally);
* population from the raster: ``rasterstats.zonal_stats`` (``sum``; a cell counts in a
  village when its centre falls inside, rasterstats' default) for the villages that
  intersect the raster, with the raster read into memory once;
* rates per 1,000 people with pandas.

:func:`naive_indicators` returns one row per village (indexed by ``kode``) with the
contract's column ids. With a raster it also computes what ``layers.indicators`` computes
from it, the plain way: every populated cell becomes a point at its centre, placed in a
village with ``geopandas.sjoin`` (the cell-centre rule) and matched to the nearest facility
of each type with ``geopandas.sjoin_nearest``; ``dist_m__<type>`` is then the people-weighted
mean distance of the village's cells and ``share_beyond__<type>`` the share of its cells'
people farther than the standard distance, for villages wholly on the raster with people
on it (elsewhere the representative point's distance, and 0 or 1 for the share).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from layers.crs import metric_crs  # noqa: E402
from layers.indicators import DEFAULT_STANDARDS_M  # noqa: E402
from layers.schema import FACILITY_TYPES, NEED_CATEGORIES, VOCABULARIES  # noqa: E402

__all__ = ["DEFAULT_TYPES", "SOURCE_COLUMNS", "naive_indicators"]

#: The facility types the benchmark compares.
DEFAULT_TYPES: tuple[str, ...] = ("puskesmas", "posyandu", "sd", "water_point")
#: Column names in the synthetic GeoPackages (``scripts/make_synthetic.py``).
SOURCE_COLUMNS: dict[str, str] = {
    "kode": "kode",
    "population": "penduduk",
    "type": "jenis",
    "category": "kategori",
    "severity": "tingkat",
    "reported_date": "tanggal_lapor",
    "status": "status",
}
OPEN_STATUSES = ("open", "verified", "in_progress")
ADDRESSED_STATUSES = ("addressed", "closed")


class _Clock:
    """Adds the seconds of each named stage to ``timings`` (when one is given)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.t
        self.t = now


def _canonical(values: pd.Series, vocabulary: tuple[str, str]) -> pd.Series:
    index = VOCABULARIES[vocabulary]
    return values.astype("string").str.strip().str.lower().map(index)


def _per_1000(values: pd.DataFrame | pd.Series, people: pd.Series):
    people = people.where(people > 0)
    if isinstance(values, pd.DataFrame):
        return values.div(people, axis=0) * 1000.0
    return values / people * 1000.0


def naive_indicators(
    paths: Mapping[str, str | Path],
    types: Iterable[str] = DEFAULT_TYPES,
    *,
    categories: Iterable[str] = NEED_CATEGORIES,
    as_of: date | str | None = None,
    half_life_days: float | None = None,
    include_addressed: bool = False,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Compute village indicators from the files with plain GeoPandas.

    Parameters
    ----------
    paths : mapping
        ``villages``, ``facilities`` and ``needs`` GeoPackages as written by
        ``scripts/make_synthetic.py``; optionally ``population``, a GeoTIFF of people per
        cell.
    types : iterable of str
        Facility types (keys of ``layers.schema.FACILITY_TYPES``).
    categories : iterable of str
        Need categories reported as columns.
    as_of : date or ISO date text, optional
        The date the indicators describe: needs reported after it are left out. Required
        with ``half_life_days``.
    half_life_days : float, optional
        Half life of a need's weight in days: a need reported ``a`` days before ``as_of``
        weighs ``severity * 0.5 ** (a / half_life_days)``. Without it the weight is the
        severity alone.
    include_addressed : bool
        Count addressed and closed needs in ``needs__*`` and the weighted sums too (by
        default only the needs still unmet count; ``needs_open`` and ``needs_addressed``
        count by status either way).
    timings : dict, optional
        Filled with the seconds of each stage (``read``, ``facilities``, ``needs``,
        ``nearest``, ``zonal``, ``cells``, ``rates``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``kode`` (text), one row per village, columns ``population``,
        ``population_raster`` (with a raster), and for each type ``fac_count__<type>``,
        ``fac_per_1000__<type>``, ``dist_m__<type>``; for each category ``needs__<c>``,
        ``needs_weighted__<c>``, ``needs_per_1000__<c>``; then ``needs_open``,
        ``needs_addressed``, ``needs_weighted__all``, ``needs_per_1000__all``. Rates use
        the raster population where the village has one, else the table population.

    Raises
    ------
    ValueError
        For a missing path, an unknown type or category, or a half life without a date.
    """
    if not isinstance(paths, Mapping):
        raise ValueError(f"paths must be a mapping of layer name to file, not {type(paths)}")
    for kind in ("villages", "facilities", "needs"):
        if kind not in paths or not Path(paths[kind]).exists():
            raise ValueError(f"paths[{kind!r}] is missing or not a file: {paths.get(kind)}")
    if paths.get("population") is not None and not Path(paths["population"]).exists():
        raise ValueError(f"paths['population'] is not a file: {paths['population']}")
    types = tuple(types)
    categories = tuple(categories)
    unknown = [t for t in types if t not in FACILITY_TYPES]
    if not types or unknown:
        raise ValueError(f"unknown or no facility types {unknown}; expected {list(FACILITY_TYPES)}")
    unknown = [c for c in categories if c not in NEED_CATEGORIES]
    if not categories or unknown:
        raise ValueError(f"unknown or no need categories {unknown}; expected {NEED_CATEGORIES}")
    if half_life_days is not None and (as_of is None or not half_life_days > 0):
        raise ValueError("half_life_days must be positive and needs an as_of date")
    if not isinstance(include_addressed, bool):
        raise ValueError(f"include_addressed must be True or False, not {include_addressed!r}")
    c = SOURCE_COLUMNS
    clock = _Clock(timings)

    villages = gpd.read_file(
        paths["villages"], columns=[c["kode"], c["population"]], use_arrow=True
    )
    facilities = gpd.read_file(paths["facilities"], columns=[c["type"]], use_arrow=True)
    needs = gpd.read_file(
        paths["needs"],
        columns=[c["category"], c["severity"], c["reported_date"], c["status"]],
        use_arrow=True,
    )
    villages = villages.rename(columns={c["kode"]: "kode", c["population"]: "population"})
    villages["kode"] = villages["kode"].astype(str)
    clock.lap("read")

    # Facilities of the wanted types, counted per village.
    facilities["type"] = _canonical(facilities[c["type"]], ("facilities", "type"))
    facilities = facilities.loc[facilities["type"].isin(types), ["type", "geometry"]]
    polygons = villages[["kode", "geometry"]]
    joined = gpd.sjoin(facilities, polygons, how="inner", predicate="within")
    fac_count = (
        joined.groupby(["kode", "type"]).size().unstack(fill_value=0).reindex(columns=list(types))
    )
    fac_count = fac_count.reindex(villages["kode"]).fillna(0).astype(np.int64)
    clock.lap("facilities")

    # Needs per category: counts, weighted sums; open and addressed counts.
    needs["category"] = _canonical(needs[c["category"]], ("needs", "category"))
    needs["status"] = _canonical(needs[c["status"]], ("needs", "status"))
    weight = needs[c["severity"]].astype(np.float64)
    if as_of is not None:
        reported = pd.to_datetime(needs[c["reported_date"]]).dt.normalize()
        age = (pd.Timestamp(as_of) - reported).dt.days
        needs = needs[~(age < 0)]  # reported after the reference date
        weight = weight[needs.index]
        if half_life_days is not None:
            weight = weight * np.power(0.5, age[needs.index].fillna(0) / half_life_days)
    needs["weight"] = weight
    joined = gpd.sjoin(
        needs[["category", "status", "weight", "geometry"]],
        polygons,
        how="inner",
        predicate="within",
    )
    joined["open"] = joined["status"].isin(OPEN_STATUSES)
    joined["addressed"] = joined["status"].isin(ADDRESSED_STATUSES)
    unmet = joined if include_addressed else joined[~joined["addressed"]]
    by_category = unmet.groupby(["kode", "category"])["weight"].agg(["size", "sum"])
    need_count = by_category["size"].unstack(fill_value=0).reindex(columns=list(categories))
    need_weight = by_category["sum"].unstack(fill_value=0.0).reindex(columns=list(categories))
    need_count = need_count.reindex(villages["kode"]).fillna(0).astype(np.int64)
    need_weight = need_weight.reindex(villages["kode"]).fillna(0.0)
    per_village = joined.groupby("kode")[["open", "addressed"]].sum()
    need_open, need_addressed = per_village["open"], per_village["addressed"]
    weight_all = unmet.groupby("kode")["weight"].sum()
    clock.lap("needs")

    # Nearest facility of each type from each village's representative point, in metres.
    crs = metric_crs(villages)
    points = gpd.GeoDataFrame(
        {"kode": villages["kode"]}, geometry=villages.representative_point(), crs=villages.crs
    ).to_crs(crs)
    facilities_m = facilities.to_crs(crs)
    distance = {}
    for t in types:
        of_type = facilities_m.loc[facilities_m["type"] == t, ["geometry"]]
        if of_type.empty:
            distance[t] = pd.Series(np.nan, index=villages["kode"])
            continue
        near = gpd.sjoin_nearest(points, of_type, how="left", distance_col="distance")
        # Ties give one row per equally near facility: keep one distance per village.
        distance[t] = near.groupby("kode")["distance"].min().reindex(villages["kode"])
    clock.lap("nearest")

    out = pd.DataFrame(index=pd.Index(villages["kode"], name="kode"))
    out["population"] = villages["population"].to_numpy(dtype=np.float64)
    people = out["population"]
    weighted: dict[str, tuple[pd.Series, pd.Series]] = {}
    on_raster = pd.Series(False, index=villages["kode"])
    if paths.get("population") is not None:
        out["population_raster"] = _zonal_population(villages, paths["population"])
        people = out["population_raster"].fillna(out["population"])
        clock.lap("zonal")
        # Every populated cell as a point, in its village, then to the nearest facility.
        cells, on_raster = _cells_in_villages(villages, paths["population"])
        cells = cells.to_crs(crs)
        for t in types:
            of_type = facilities_m.loc[facilities_m["type"] == t, ["geometry"]]
            if of_type.empty:
                continue
            near = gpd.sjoin_nearest(cells, of_type, how="left", distance_col="distance")
            near = near[~near.index.duplicated()]  # ties: one row per cell
            total = near.groupby("kode")["people"].sum()
            mean = (near["distance"] * near["people"]).groupby(near["kode"]).sum() / total
            standard = DEFAULT_STANDARDS_M.get(t)
            far = None
            if standard is not None:
                beyond = near["people"].where(near["distance"] > standard, 0.0)
                far = beyond.groupby(near["kode"]).sum() / total
            weighted[t] = (mean, far)
        clock.lap("cells")
    else:
        clock.lap("zonal")

    for t in types:
        out[f"fac_count__{t}"] = fac_count[t].to_numpy()
        out[f"fac_per_1000__{t}"] = _per_1000(fac_count[t], people).to_numpy()
        point = distance[t].to_numpy()
        standard = DEFAULT_STANDARDS_M.get(t)
        share = (point > standard).astype(np.float64) if standard is not None else None
        if share is not None:
            share[np.isnan(point)] = np.nan
        if t in weighted:
            mean, far = weighted[t]
            here = on_raster.to_numpy() & mean.reindex(out.index).notna().to_numpy()
            point = np.where(here, mean.reindex(out.index).to_numpy(), point)
            if far is not None:
                share = np.where(here, far.reindex(out.index).to_numpy(), share)
        out[f"dist_m__{t}"] = point
        if share is not None:
            out[f"share_beyond__{t}"] = share
    rates = _per_1000(need_weight, people)
    for cat in categories:
        out[f"needs__{cat}"] = need_count[cat].to_numpy()
        out[f"needs_weighted__{cat}"] = need_weight[cat].to_numpy()
        out[f"needs_per_1000__{cat}"] = rates[cat].to_numpy()
    out["needs_open"] = need_open.reindex(out.index).fillna(0).astype(np.int64).to_numpy()
    out["needs_addressed"] = need_addressed.reindex(out.index).fillna(0).astype(np.int64).to_numpy()
    out["needs_weighted__all"] = weight_all.reindex(out.index).fillna(0.0).to_numpy()
    out["needs_per_1000__all"] = _per_1000(out["needs_weighted__all"], people).to_numpy()
    clock.lap("rates")
    return out


def _cells_in_villages(
    villages: gpd.GeoDataFrame, raster: str | Path
) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Populated cells as centre points with their people and village; who is on the raster.

    Returns the cells (``kode``, ``people``, point geometry in the raster's CRS) and, per
    village, whether it lies wholly within the raster's extent.
    """
    import rasterio
    from rasterio.transform import xy
    from shapely.geometry import box

    with rasterio.open(raster) as ds:
        array = ds.read(1)
        transform, nodata, crs, bounds = ds.transform, ds.nodata, ds.crs, ds.bounds
    populated = array > 0
    if nodata is not None:
        populated &= array != nodata
    rows, cols = np.nonzero(populated)
    xs, ys = xy(transform, rows, cols, offset="center")
    cells = gpd.GeoDataFrame(
        {"people": array[rows, cols].astype(np.float64)},
        geometry=gpd.points_from_xy(xs, ys),
        crs=crs,
    )
    in_crs = villages[["kode", "geometry"]].to_crs(crs)
    cells = gpd.sjoin(cells, in_crs, how="inner", predicate="within")
    cells = cells[~cells.index.duplicated()][["kode", "people", "geometry"]]
    inside = in_crs.within(box(*bounds))
    return cells, pd.Series(inside.to_numpy(), index=villages["kode"])


def _zonal_population(villages: gpd.GeoDataFrame, raster: str | Path) -> np.ndarray:
    """Sum of the raster's cells whose centres fall in each village (NaN off the raster)."""
    import rasterio
    from rasterstats import zonal_stats
    from shapely.geometry import box

    with rasterio.open(raster) as ds:
        array = ds.read(1)
        transform, nodata, crs, bounds = ds.transform, ds.nodata, ds.crs, ds.bounds
    in_crs = villages.to_crs(crs) if villages.crs != crs else villages
    hit = in_crs.sindex.query(box(*bounds), predicate="intersects")
    stats = zonal_stats(
        in_crs.geometry.iloc[hit], array, affine=transform, nodata=nodata, stats=["sum"]
    )
    result = np.full(len(villages), np.nan)
    result[hit] = [np.nan if s["sum"] is None else float(s["sum"]) for s in stats]
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python scripts/naive_indicators.py [DATA_DIR] [--out FILE.parquet]``."""
    import argparse

    from make_synthetic import DEFAULT_DIR, FILES, RASTER_FILE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DIR), help="data folder")
    parser.add_argument("--out", default=None, help="write the table to this Parquet file")
    args = parser.parse_args(argv)
    data = Path(args.data)
    paths = {kind: data / name for kind, name in FILES.items()}
    if (data / RASTER_FILE).exists():
        paths["population"] = data / RASTER_FILE
    timings: dict[str, float] = {}
    table = naive_indicators(paths, timings=timings)
    for stage, seconds in timings.items():
        print(f"{stage:<11} {seconds:7.2f} s")
    print(f"{'total':<11} {sum(timings.values()):7.2f} s, {len(table):,} villages")
    if args.out:
        table.to_parquet(args.out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
