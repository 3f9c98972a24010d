"""Spatial weights between villages: which villages are neighbours.

Two villages are neighbours when their polygons share a boundary or touch at a corner
(queen contiguity), or come within a small tolerance of each other (default
:data:`DEFAULT_TOLERANCE_M`, 10 metres). The tolerance is there because real boundaries
are simplified: in the Kemendagri village polygons of Jambi, neighbours that run alongside
each other for hundreds of metres are sometimes up to 5 metres apart, while pairs 5 to 50
metres apart only meet near a corner where several villages come together. Overlapping
slivers count as touching. Distances are measured in a metric CRS
(:func:`layers.crs.metric_crs`: a UTM zone for a regency or a province, Albers equal-area
conic nationally).

A village that has no neighbour even within the tolerance (a real island, a village
whose neighbours are missing from the layer) gets its ``k`` nearest villages, measured
between representative points (points inside each polygon), as neighbours, so that no
village is left without neighbours. These links are added both ways, so the weights stay
symmetric like contiguity.

The result carries a libpysal ``W``, row-standardised (each village's neighbour weights
add up to 1), for :mod:`esda` and :mod:`layers.hotspots`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from libpysal.weights import WSP, W
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from layers.crs import metric_crs
from layers.errors import N_, InputError

__all__ = [
    "DEFAULT_K",
    "DEFAULT_TOLERANCE_M",
    "VillageWeights",
    "check_options",
    "listed",
    "validate_villages",
    "village_weights",
]

#: Gaps between village polygons closed by contiguity, in metres.
DEFAULT_TOLERANCE_M = 10.0
#: Nearest villages given as neighbours to a village that touches none.
DEFAULT_K = 4
POLYGON_TYPES = ("Polygon", "MultiPolygon")
#: How many codes an error message lists before it only counts.
LISTED_CODES = 10


def listed(codes: Iterable[str], limit: int = LISTED_CODES) -> str:
    """Return the first ``limit`` codes joined by commas, with "..." when there are more."""
    codes = list(codes)
    text = ", ".join(str(c) for c in codes[:limit])
    return text + (", ..." if len(codes) > limit else "")


def validate_villages(villages: gpd.GeoDataFrame, *, min_rows: int = 2) -> None:
    """Check that ``villages`` can be used for neighbours and hot spots.

    Parameters
    ----------
    villages : GeoDataFrame
        Village polygons with a ``kode`` column.
    min_rows : int
        The fewest villages accepted.

    Raises
    ------
    ValueError
        When ``villages`` is not a GeoDataFrame (a programming error).
    InputError
        When the layer has no CRS, no ``kode`` column, codes that are missing, not text,
        empty or repeated, geometries that are missing, empty or not polygons, or fewer
        than ``min_rows`` villages. The message names the codes concerned.
    """
    if not isinstance(villages, gpd.GeoDataFrame):
        raise ValueError(f"villages must be a GeoDataFrame, not {type(villages).__name__}")
    if not _has_geometry(villages):
        raise InputError(N_("the villages have no geometry column"))
    if villages.crs is None:
        raise InputError(
            N_(
                "the villages have no coordinate reference system; set one "
                "(stored layers are in EPSG:4326)"
            )
        )
    if "kode" not in villages.columns:
        raise InputError(
            N_("the villages have no '%(column)s' column; columns: %(columns)s"),
            params={
                "column": "kode",
                "columns": ", ".join(str(c) for c in villages.columns if c != "geometry"),
            },
        )
    if len(villages) < min_rows:
        raise InputError(
            N_("at least %(min)s villages are needed, found %(count)s"),
            params={"min": min_rows, "count": len(villages)},
        )
    kode = villages["kode"]
    missing = kode.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing) + 1
        raise InputError(
            N_("%(count)s villages have no code (rows %(rows)s)"),
            column="kode",
            params={"count": int(missing.sum()), "rows": listed(map(str, rows))},
        )
    kind = pd.api.types.infer_dtype(kode, skipna=False)
    if kind != "string":
        raise InputError(
            N_(
                "village codes must be text with leading zeros kept (such as "
                "'15.02.01.2001'), found %(kind)s values"
            ),
            column="kode",
            params={"kind": kind},
        )
    empty = (kode.str.strip() == "").to_numpy()
    if empty.any():
        rows = np.flatnonzero(empty) + 1
        raise InputError(
            N_("%(count)s villages have an empty code (rows %(rows)s)"),
            column="kode",
            params={"count": int(empty.sum()), "rows": listed(map(str, rows))},
        )
    repeated = kode[kode.duplicated(keep=False)]
    if len(repeated):
        codes = pd.unique(repeated)
        raise InputError(
            N_("%(count)s village codes appear more than once: %(codes)s"),
            column="kode",
            params={"count": len(codes), "codes": listed(codes)},
        )
    geoms = np.asarray(villages.geometry.array)
    absent = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if absent.any():
        raise InputError(
            N_("%(count)s villages have no geometry: %(codes)s"),
            params={"count": int(absent.sum()), "codes": listed(kode[absent])},
        )
    types = villages.geom_type.to_numpy()
    wrong = ~np.isin(types, POLYGON_TYPES)
    if wrong.any():
        raise InputError(
            N_("%(count)s villages are %(types)s, not polygons: %(codes)s"),
            params={
                "count": int(wrong.sum()),
                "types": ", ".join(sorted(set(types[wrong]))),
                "codes": listed(kode[wrong]),
            },
        )


def check_options(k: int, tolerance: float) -> None:
    """Check the ``k`` and ``tolerance`` arguments of :func:`village_weights`.

    Raises
    ------
    ValueError
        When ``k`` is not a whole number >= 1 or ``tolerance`` not a finite number >= 0.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, got {k!r}")
    number = isinstance(tolerance, int | float | np.integer | np.floating)
    if isinstance(tolerance, bool) or not number or not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number of metres >= 0, got {tolerance!r}")


def _has_geometry(frame: gpd.GeoDataFrame) -> bool:
    try:
        frame.geometry  # noqa: B018 (raises when no active geometry column is set)
    except AttributeError:
        return False
    return True


def _metric(crs: object) -> pyproj.CRS:
    try:
        crs = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(f"crs {crs!r} is not a coordinate reference system: {exc}") from None
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter"}:
        raise ValueError(f"crs must be projected in metres, got {crs.name} ({', '.join(units)})")
    return crs


@dataclass(frozen=True, eq=False)
class VillageWeights:
    """Neighbours of every village, ready for local statistics.

    Attributes
    ----------
    w : libpysal.weights.W
        Row-standardised weights; ids are the village codes in the layer's order.
    kode : pandas.Index
        Village codes, in the order of the rows of every matrix here.
    contiguity : scipy.sparse.csr_matrix
        Binary, symmetric contiguity (within the tolerance) before the fallback.
    adjacency : scipy.sparse.csr_matrix
        Binary, symmetric neighbours used by ``w``: contiguity plus the fallback links.
    islands : list of str
        Villages with no neighbour by contiguity; each got its ``k`` nearest villages.
    fallback : list of str
        Villages whose neighbours include a nearest-village link: the islands and the
        villages they were linked to.
    components : int
        Groups of villages connected through neighbours (1 when every village can be
        reached from every other).
    component_labels : numpy.ndarray
        Group number of each village (0 for the largest group).
    repaired : list of str
        Villages whose invalid polygon was repaired (``make_valid``) for this
        computation only; the layer itself is not changed.
    points : numpy.ndarray
        Representative points (inside each polygon) in ``crs``, used for the fallback.
    crs : pyproj.CRS
        The metric CRS the distances were measured in.
    tolerance : float
        Gap closed by contiguity, in metres.
    k : int
        Nearest villages given to an island.
    """

    w: W
    kode: pd.Index
    contiguity: sp.csr_matrix
    adjacency: sp.csr_matrix
    islands: list[str]
    fallback: list[str]
    components: int
    component_labels: np.ndarray
    repaired: list[str]
    points: np.ndarray
    crs: pyproj.CRS
    tolerance: float
    k: int

    @property
    def cardinalities(self) -> pd.Series:
        """Number of neighbours of each village, by code."""
        return pd.Series(np.diff(self.adjacency.indptr), index=self.kode, name="neighbours")

    def neighbours(self, kode: str) -> list[str]:
        """Return the codes of the neighbours of village ``kode``, in layer order."""
        try:
            row = self.kode.get_loc(kode)
        except KeyError:
            raise InputError(
                N_("village %(kode)s is not in these weights"), params={"kode": kode}
            ) from None
        start, end = self.adjacency.indptr[row], self.adjacency.indptr[row + 1]
        return self.kode[np.sort(self.adjacency.indices[start:end])].tolist()

    def subset(self, kode: Sequence[str]) -> VillageWeights:
        """Weights for some of the villages, in the order given.

        Contiguity between the villages kept is kept; a village left without any
        neighbour gets its ``k`` nearest villages among those kept, as in
        :func:`village_weights`.

        Parameters
        ----------
        kode : sequence of str
            Codes of the villages to keep (at least 2, each once).

        Returns
        -------
        VillageWeights
            New weights; these are unchanged.

        Raises
        ------
        InputError
            When a code is not in these weights, or fewer than 2 codes are given.
        """
        wanted = pd.Index(kode)
        if len(wanted) < 2:
            raise InputError(
                N_("at least %(min)s villages are needed, found %(count)s"),
                params={"min": 2, "count": len(wanted)},
            )
        if wanted.has_duplicates:
            raise ValueError("subset codes must be unique")
        rows = self.kode.get_indexer(wanted)
        if (rows < 0).any():
            absent = wanted[rows < 0]
            raise InputError(
                N_("%(count)s villages are not in the neighbour weights: %(codes)s"),
                params={"count": len(absent), "codes": listed(absent)},
            )
        contiguity = self.contiguity[rows][:, rows].tocsr()
        repaired = sorted(set(self.repaired) & set(wanted))
        return _finish(
            contiguity, wanted, self.points[rows], self.k, self.crs, self.tolerance, repaired
        )


def village_weights(
    villages: gpd.GeoDataFrame,
    *,
    k: int = DEFAULT_K,
    crs: object = None,
    tolerance: float = DEFAULT_TOLERANCE_M,
) -> VillageWeights:
    """Find the neighbours of every village.

    Parameters
    ----------
    villages : GeoDataFrame
        Village polygons (Polygon or MultiPolygon) with a unique text ``kode``; any CRS.
    k : int, default 4
        Nearest villages (between representative points) given as neighbours to a
        village that touches no other. Capped at the number of other villages.
    crs : CRS-like, optional
        Metric CRS for distances; :func:`layers.crs.metric_crs` of the layer by default.
    tolerance : float, default 10
        Polygons closer than this many metres count as touching (closes the small gaps
        of simplified boundaries). 0 means strict contiguity.

    Returns
    -------
    VillageWeights
        Neighbours, row-standardised ``W``, islands, fallback villages and components.

    Raises
    ------
    InputError
        When the villages are not usable (see :func:`validate_villages`).
    ValueError
        When ``k``, ``crs`` or ``tolerance`` are not valid arguments.
    """
    validate_villages(villages)
    check_options(k, tolerance)
    crs = metric_crs(villages) if crs is None else _metric(crs)
    geoms = np.asarray(villages.geometry.to_crs(crs).array)
    kode = pd.Index(villages["kode"].to_numpy(dtype=object), name="kode")

    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    contiguity = _contiguity(geoms, float(tolerance))
    points = shapely.point_on_surface(geoms)
    return _finish(contiguity, kode, points, int(k), crs, float(tolerance), kode[invalid].tolist())


def _contiguity(geoms: np.ndarray, tolerance: float) -> sp.csr_matrix:
    """Binary symmetric matrix of polygons that intersect or lie within ``tolerance``."""
    n = len(geoms)
    tree = shapely.STRtree(geoms)
    low_x, low_y, high_x, high_y = shapely.bounds(geoms).T
    boxes = shapely.box(
        low_x - tolerance, low_y - tolerance, high_x + tolerance, high_y + tolerance
    )
    left, right = tree.query(boxes)
    # Each pair once; most candidates intersect (shared edges, slivers), and that test is
    # about twice as fast as a distance, which is left for the few that do not.
    once = left < right
    left, right = left[once], right[once]
    near = shapely.intersects(geoms[left], geoms[right])
    if tolerance > 0:
        rest = np.flatnonzero(~near)
        near[rest] = shapely.dwithin(geoms[left[rest]], geoms[right[rest]], tolerance)
    return _binary(left[near], right[near], n)


def _binary(rows: np.ndarray, cols: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric 0/1 matrix with ones at (rows, cols) and (cols, rows)."""
    ones = np.ones(2 * len(rows))
    matrix = sp.csr_matrix(
        (ones, (np.concatenate([rows, cols]), np.concatenate([cols, rows]))), shape=(n, n)
    )
    matrix.data[:] = 1.0  # duplicates were summed
    matrix.sort_indices()
    return matrix


def _finish(
    contiguity: sp.csr_matrix,
    kode: pd.Index,
    points: np.ndarray,
    k: int,
    crs: pyproj.CRS,
    tolerance: float,
    repaired: list[str],
) -> VillageWeights:
    """Add the nearest-village fallback to ``contiguity`` and build the weights."""
    n = contiguity.shape[0]
    alone = np.flatnonzero(np.diff(contiguity.indptr) == 0)
    adjacency = contiguity
    linked = np.empty(0, dtype=np.int64)
    k_used = min(k, n - 1)
    if alone.size:
        xy = shapely.get_coordinates(points)
        # k + 1 nearest, then drop the village itself (by position, not by distance 0,
        # so that two villages with the same point still see each other).
        _, nearest = cKDTree(xy).query(xy[alone], k=k_used + 1)
        nearest = nearest.reshape(len(alone), k_used + 1)
        others = nearest != alone[:, None]
        first = np.argsort(~others, axis=1, kind="stable")[:, :k_used]
        chosen = np.take_along_axis(nearest, first, axis=1)
        rows = np.repeat(alone, k_used)
        links = _binary(rows, chosen.ravel(), n)
        adjacency = (contiguity + links).tocsr()
        adjacency.data[:] = 1.0
        adjacency.sort_indices()
        linked = np.unique(np.concatenate([rows, chosen.ravel()]))
    count, labels = connected_components(adjacency, directed=False)
    # Number groups by size, largest first, so "0" is the mainland.
    sizes = np.bincount(labels)
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    w = WSP(adjacency, id_order=kode.tolist()).to_W(silence_warnings=True)
    w.transform = "r"
    return VillageWeights(
        w=w,
        kode=kode,
        contiguity=contiguity,
        adjacency=adjacency,
        islands=kode[alone].tolist(),
        fallback=kode[linked].tolist(),
        components=int(count),
        component_labels=rank[labels],
        repaired=list(repaired),
        points=np.asarray(points),
        crs=crs,
        tolerance=tolerance,
        k=k_used,
    )
