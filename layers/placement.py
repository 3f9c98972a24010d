"""Placing points in villages: which village each point falls in, deterministically.

Neighbouring village polygons from simplified sources overlap in thin slivers, so a point
near a border can fall in two villages. Each point is assigned to exactly one: the village
whose boundary is farthest from the point (the point is deepest inside it), ties broken by
the smaller code. Points in no village are reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

__all__ = ["Placement", "place_points", "swapped_inside"]


@dataclass
class Placement:
    """Where points fall among village polygons.

    Attributes
    ----------
    village : numpy.ndarray
        Index (position in the villages array) of the village chosen per point; -1 where
        the point is in no village.
    overlaps : pandas.DataFrame
        One row per point that fell in more than one village: ``point`` (position),
        ``candidates`` (list of village positions, chosen first).
    """

    village: np.ndarray
    overlaps: pd.DataFrame


def place_points(points: np.ndarray, villages: np.ndarray, codes: np.ndarray) -> Placement:
    """Assign each point to one village polygon.

    Parameters
    ----------
    points : numpy.ndarray of shapely Points
        Points in the same CRS as ``villages`` (None or empty entries are left unplaced).
    villages : numpy.ndarray of shapely Polygons/MultiPolygons
        Village polygons.
    codes : numpy.ndarray of str
        Village codes, used to break ties so the choice never depends on input order.

    Returns
    -------
    Placement
    """
    points = np.asarray(points, dtype=object)
    villages = np.asarray(villages, dtype=object)
    codes = np.asarray(codes, dtype=object)
    if len(villages) != len(codes):
        raise ValueError(f"{len(villages)} villages but {len(codes)} codes")
    chosen = np.full(len(points), -1, dtype=np.int64)
    empty_overlaps = pd.DataFrame({"point": np.array([], dtype=np.int64), "candidates": []})
    valid = ~(shapely.is_missing(points) | shapely.is_empty(points))
    if not valid.any() or len(villages) == 0:
        return Placement(chosen, empty_overlaps)
    idx = np.flatnonzero(valid)
    tree = shapely.STRtree(villages)
    pt_pos, vil_pos = tree.query(points[idx], predicate="intersects")
    pt_pos = idx[pt_pos]
    if len(pt_pos) == 0:
        return Placement(chosen, empty_overlaps)
    counts = np.bincount(pt_pos, minlength=len(points))
    single = counts[pt_pos] == 1
    chosen[pt_pos[single]] = vil_pos[single]
    multi = ~single
    if not multi.any():
        return Placement(chosen, empty_overlaps)
    mp, mv = pt_pos[multi], vil_pos[multi]
    # Rounded so that equal depths (up to about 0.1 mm in degrees) fall to the code.
    depth = np.round(shapely.distance(points[mp], shapely.boundary(villages[mv])), 9)
    order = np.lexsort((codes[mv].astype(str), -depth, mp))
    mp, mv = mp[order], mv[order]
    first = np.ones(len(mp), dtype=bool)
    first[1:] = mp[1:] != mp[:-1]
    chosen[mp[first]] = mv[first]
    groups = pd.Series(mv).groupby(mp).agg(list)
    overlaps = pd.DataFrame({"point": groups.index.to_numpy(), "candidates": groups.to_list()})
    return Placement(chosen, overlaps)


def swapped_inside(points: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Which points fall in ``area`` only when their x and y are swapped.

    Parameters
    ----------
    points : numpy.ndarray of shapely Points
        Points as read (x = longitude, y = latitude).
    area : numpy.ndarray of shapely geometries
        The polygons that define the area (e.g. the workspace's villages).

    Returns
    -------
    numpy.ndarray of bool
        True where the point is outside the area but its swap is inside.
    """
    points = np.asarray(points, dtype=object)
    result = np.zeros(len(points), dtype=bool)
    ok = ~(shapely.is_missing(points) | shapely.is_empty(points))
    if not ok.any() or len(area) == 0:
        return result
    idx = np.flatnonzero(ok)
    tree = shapely.STRtree(np.asarray(area, dtype=object))
    inside = np.zeros(len(idx), dtype=bool)
    inside[np.unique(tree.query(points[idx], predicate="intersects")[0])] = True
    out_idx = idx[~inside]
    if len(out_idx) == 0:
        return result
    swapped = shapely.points(shapely.get_y(points[out_idx]), shapely.get_x(points[out_idx]))
    hit = np.unique(tree.query(swapped, predicate="intersects")[0])
    result[out_idx[hit]] = True
    return result
