"""Facility siting: checked against every subset of small instances, and against spopt."""

from __future__ import annotations

import json
import math
import time
from itertools import combinations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine

from layers.errors import InputError
from layers.targeting import (
    FacilitySiting,
    demand_from_raster,
    demand_from_villages,
    grid_candidates,
    layer_candidates,
    village_candidates,
)
from layers.targeting.siting_models import merge_rows
from layers.zonal import PopulationGrid

# UTM 48S: metric_crs of these points is this same CRS, so distances are plain x/y ones.
CRS = "EPSG:32748"
X0, Y0 = 200_000.0, 9_700_000.0


def points(xy: np.ndarray, **columns) -> gpd.GeoDataFrame:
    geometry = shapely.points(X0 + xy[:, 0], Y0 + xy[:, 1])
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=CRS)


def instance(seed: int, n: int = 24, m: int = 9, e: int = 0, size: float = 10_000.0):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, size, (n, 2))
    c = rng.uniform(0, size, (m, 2))
    x = rng.uniform(0, size, (e, 2))
    w = rng.integers(0, 500, n).astype(float)
    demand = points(d, weight=w, kode=[f"15.02.{i % 4:02d}.200{i % 3}" for i in range(n)])
    candidates = points(c, site_id=[f"c{j:02d}" for j in range(m)])
    existing = points(x) if e else None
    return demand, candidates, existing, d, c, x, w


def distances(d: np.ndarray, f: np.ndarray) -> np.ndarray:
    if len(f) == 0:
        return np.full((len(d), 0), np.inf)
    return np.hypot(d[:, 0, None] - f[None, :, 0], d[:, 1, None] - f[None, :, 1])


def nearest_to(d, c, x, subset) -> np.ndarray:
    facilities = np.vstack([x, c[list(subset)]]) if len(subset) else x
    if len(facilities) == 0:
        return np.full(len(d), np.inf)
    return distances(d, facilities).min(axis=1)


def brute_mclp(d, c, x, w, r, k) -> float:
    best = -1.0
    for size in range(k + 1):
        for subset in combinations(range(len(c)), size):
            best = max(best, float(w[nearest_to(d, c, x, subset) <= r].sum()))
    return best


def brute_lscp(d, c, x, w, r) -> tuple[int, np.ndarray]:
    """Fewest sites covering all coverable demand with people, and what can be reached."""
    reach = (distances(d, np.vstack([c, x]) if len(x) else c) <= r).any(axis=1)
    need = reach & (w > 0)
    for size in range(len(c) + 1):
        for subset in combinations(range(len(c)), size):
            if (nearest_to(d, c, x, subset)[need] <= r).all():
                return size, reach
    raise AssertionError("unreachable")


def brute_pmedian(d, c, x, w, k) -> float:
    return min(
        float((w * nearest_to(d, c, x, subset)).sum()) for subset in combinations(range(len(c)), k)
    )


def site(demand, candidates, existing=None, **kw) -> FacilitySiting:
    kw.setdefault("mip_gap", 0.0)
    return FacilitySiting(demand, candidates, existing=existing, **kw).solve()


# --- against every subset -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ["own", "spopt"])
@pytest.mark.parametrize(
    ("seed", "e", "k", "r"),
    [(1, 0, 3, 2000.0), (2, 2, 2, 2500.0), (3, 3, 4, 1800.0), (4, 0, 1, 3000.0)],
)
def test_mclp_equals_brute_force(engine, seed, e, k, r):
    demand, candidates, existing, d, c, x, w = instance(seed, m=10, e=e)
    result = site(demand, candidates, existing, model="mclp", distance_m=r, k=k, engine=engine)
    best = brute_mclp(d, c, x, w, r, k)
    assert result.engine == engine
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best)
    assert result.covered_after == pytest.approx(best)
    # the reported sites really cover that much, measured directly
    chosen = [int(s[1:]) for s in result.sites["site_id"]]
    assert len(chosen) <= k
    assert float(w[nearest_to(d, c, x, chosen) <= r].sum()) == pytest.approx(best)
    before = float(w[nearest_to(d, c, x, []) <= r].sum())
    assert result.covered_before == pytest.approx(before)
    assert result.sites["added_weight"].sum() == pytest.approx(best - before)
    assert list(result.sites["order"]) == list(range(1, len(chosen) + 1))


@pytest.mark.parametrize("engine", ["own", "spopt"])
def test_mclp_beats_greedy_where_greedy_falls_short(engine):
    # L1, L2 (5 people each) around site A; R1, R2 around site B; site M reaches L2, R1 and
    # X (1 person): greedy takes M first (11) and then 5 more, the best pair is A + B (20)
    xy = np.array([[0, 0], [900, 0], [2700, 0], [3600, 0], [1800, 0]], dtype=float)
    demand = points(xy, weight=[5.0, 5.0, 5.0, 5.0, 1.0])
    sites = np.array([[450, 0], [3150, 0], [1800, 0]], dtype=float)
    candidates = points(sites, site_id=["A", "B", "M"])
    result = site(demand, candidates, model="mclp", distance_m=1000.0, k=2, engine=engine)
    assert brute_mclp(xy, sites, np.zeros((0, 2)), demand["weight"].to_numpy(), 1000.0, 2) == 20
    assert result.objective == 20
    assert sorted(result.sites["site_id"]) == ["A", "B"]


@pytest.mark.parametrize("engine", ["own", "spopt"])
@pytest.mark.parametrize(("seed", "e", "r"), [(5, 0, 2500.0), (6, 2, 2200.0), (7, 0, 3500.0)])
def test_lscp_equals_brute_force(engine, seed, e, r):
    demand, candidates, existing, d, c, x, w = instance(seed, n=20, m=11, e=e)
    w[::4] = 0.0  # nobody lives there: such points need no site
    demand["weight"] = w
    # a village far away that no site can reach: reported, not infeasible
    far = points(np.array([[60_000.0, 60_000.0]]), weight=[77.0], kode=["15.02.09.2001"])
    demand = pd.concat([demand, far], ignore_index=True)
    d = np.vstack([d, [[60_000.0, 60_000.0]]])
    w = np.r_[w, 77.0]
    result = site(demand, candidates, existing, model="lscp", distance_m=r, engine=engine)
    size, reach = brute_lscp(d, c, x, w, r)
    assert result.status == "optimal"
    assert result.objective == size
    assert len(result.sites) == size
    assert result.uncoverable == pytest.approx(float(w[~reach].sum()))
    assert result.uncoverable >= 77.0
    assert "uncoverable" in [n.code for n in result.notes]
    chosen = [int(s[1:]) for s in result.sites["site_id"]]
    assert (nearest_to(d, c, x, chosen)[reach & (w > 0)] <= r).all()
    assert result.covered_after == pytest.approx(float(w[reach].sum()))


@pytest.mark.parametrize("engine", ["own", "spopt"])
@pytest.mark.parametrize(("seed", "e", "k"), [(8, 0, 3), (9, 2, 2), (10, 3, 4), (11, 0, 1)])
def test_pmedian_equals_brute_force(engine, seed, e, k):
    demand, candidates, existing, d, c, x, w = instance(seed, m=10, e=e)
    result = site(demand, candidates, existing, model="pmedian", k=k, engine=engine)
    best = brute_pmedian(d, c, x, w, k)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best, rel=1e-7)
    assert result.mean_distance_after == pytest.approx(best / w.sum(), rel=1e-7)
    chosen = [int(s[1:]) for s in result.sites["site_id"]]
    assert float((w * nearest_to(d, c, x, chosen)).sum()) == pytest.approx(best, rel=1e-7)
    if e:
        before = float((w * nearest_to(d, c, x, [])).sum())
        assert result.mean_distance_before == pytest.approx(before / w.sum())
        assert result.sites["added_weight"].sum() == pytest.approx(before - best, rel=1e-7)
    else:
        assert result.mean_distance_before is None


def test_own_pmedian_widens_its_neighbour_lists(monkeypatch):
    # 40 candidates, k = 2: the first lists (16 nearest) cannot hold the best sites for
    # every point, so the exact answer needs the lists widened at least once
    import layers.targeting.siting_models as models

    solves = []
    solve = models._solve
    monkeypatch.setattr(models, "_solve", lambda *a, **kw: solves.append(1) or solve(*a, **kw))
    demand, candidates, *_ = instance(12, n=60, m=40, size=30_000.0)
    own = site(demand, candidates, model="pmedian", k=2, engine="own")
    spopt = site(demand, candidates, model="pmedian", k=2, engine="spopt")
    assert len(solves) >= 2
    assert own.objective == pytest.approx(spopt.objective, rel=1e-7)


# --- own engine against spopt -------------------------------------------------------------


@pytest.mark.parametrize("seed", [21, 22, 23])
@pytest.mark.parametrize("model", ["mclp", "lscp", "pmedian"])
def test_own_engine_equals_spopt(seed, model):
    rng = np.random.default_rng(seed)
    n, m, e = int(rng.integers(80, 160)), int(rng.integers(20, 35)), int(rng.integers(0, 4))
    demand, candidates, existing, *_ = instance(seed, n=n, m=m, e=e, size=20_000.0)
    kw = {"model": model}
    if model != "lscp":
        kw["k"] = int(rng.integers(2, 6))
    if model != "pmedian":
        kw["distance_m"] = float(rng.uniform(2500, 4500))
    own = site(demand, candidates, existing, engine="own", **kw)
    spopt = site(demand, candidates, existing, engine="spopt", **kw)
    assert own.status == spopt.status == "optimal"
    assert own.objective == pytest.approx(spopt.objective, rel=1e-7)
    if model != "pmedian":
        assert own.covered_after == pytest.approx(spopt.covered_after)
        assert own.uncoverable == pytest.approx(spopt.uncoverable)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_lscp_where_a_start_solution_misled_highs(solver):
    # HiGHS 1.16 given the greedy start (31 sites) here reported "optimal" with an
    # objective of 22, below the true optimum, and handed back the start itself
    demand, candidates, *_ = instance(1, n=100, m=500, size=30_000.0)
    own = site(demand, candidates, model="lscp", distance_m=3000.0, engine="own", solver=solver)
    spopt = site(demand, candidates, model="lscp", distance_m=3000.0, engine="spopt")
    assert own.objective == spopt.objective == 25
    assert own.status == "optimal"


def test_auto_engine_uses_spopt_when_small_and_own_when_large():
    demand, candidates, *_ = instance(30, n=50, m=10)
    small = site(demand, candidates, model="mclp", distance_m=2000.0, k=2)
    assert small.engine == "spopt"
    assert "auto_engine" in [n.code for n in small.notes]
    demand, candidates, *_ = instance(31, n=3000, m=100, size=40_000.0)
    large = site(demand, candidates, model="mclp", distance_m=2000.0, k=5)
    assert large.engine == "own"


def test_merge_rows_groups_exactly_the_identical_rows():
    rng = np.random.default_rng(3)
    from scipy import sparse

    dense = rng.random((400, 12)) < 0.2
    dense[200:] = dense[rng.integers(0, 200, 200)]  # many repeats
    matrix = sparse.csr_matrix(dense)
    matrix.sort_indices()
    group, first = merge_rows(matrix)
    keys = [tuple(np.flatnonzero(row)) for row in dense]
    expected = {}
    for i, key in enumerate(keys):
        expected.setdefault(key, i)
    assert sorted(first.tolist()) == sorted(expected.values())
    for i, key in enumerate(keys):
        assert first[group[i]] == expected[key]


# --- results ------------------------------------------------------------------------------


def test_demand_result_and_by_kode_agree_with_direct_measurement():
    demand, candidates, existing, d, c, x, w = instance(40, n=30, m=8, e=2)
    r = 2200.0
    result = site(demand, candidates, existing, model="mclp", distance_m=r, k=3)
    chosen = [int(s[1:]) for s in result.sites["site_id"]]
    after = nearest_to(d, c, x, chosen)
    table = result.demand_result
    assert table.index.equals(demand.index)
    np.testing.assert_allclose(table["distance_after_m"], after)
    assert (table["covered_after"].to_numpy() == (after <= r)).all()
    assert (table["covered_before"].to_numpy() == (nearest_to(d, c, x, []) <= r)).all()
    # a point names the new site that serves it
    served = table["site_id"].notna().to_numpy()
    for i in np.flatnonzero(served):
        j = int(table["site_id"].iloc[i][1:])
        assert math.hypot(*(d[i] - c[j])) == pytest.approx(after[i])
    by_kode = demand.assign(cov=np.where(after <= r, w, 0.0)).groupby("kode")["cov"].sum()
    np.testing.assert_allclose(result.by_kode["covered_after"], by_kode.to_numpy())
    assert result.by_kode["weight"].sum() == pytest.approx(w.sum())


def test_sites_are_in_lon_lat_and_json_is_safe():
    demand, candidates, existing, *_ = instance(41, e=1)
    result = site(demand, candidates, existing, model="pmedian", k=2, distance_m=3000.0)
    lonlat = candidates.set_index("site_id").to_crs(4326).geometry
    for _, row in result.sites.iterrows():
        assert row["x"] == pytest.approx(lonlat[row["site_id"]].x)
        assert row["y"] == pytest.approx(lonlat[row["site_id"]].y)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["settings"]["model"] == "pmedian"
    assert len(data["sites"]) == 2
    assert set(data["seconds"]) == {"build", "solve", "total"}


def test_deterministic_and_independent_of_candidate_order():
    demand, candidates, existing, *_ = instance(42, n=80, m=30, e=2, size=20_000.0)
    one = site(
        demand, candidates, existing, model="mclp", distance_m=3000.0, k=4, engine="own"
    ).to_dict()
    shuffled = candidates.sample(frac=1.0, random_state=5)
    two = site(
        demand, shuffled, existing, model="mclp", distance_m=3000.0, k=4, engine="own"
    ).to_dict()
    one.pop("seconds"), two.pop("seconds")
    assert one == two


def test_time_limit_is_honoured_on_a_large_instance():
    # 30,000 demand points, 3,000 candidates with heavily overlapping coverage: far from
    # proven in 1 s (building the model counts against the limit too)
    rng = np.random.default_rng(50)
    n, m = 30_000, 3_000
    demand = points(rng.uniform(0, 60_000, (n, 2)), weight=rng.integers(1, 300, n).astype(float))
    candidates = points(rng.uniform(0, 60_000, (m, 2)), site_id=[f"s{j:05d}" for j in range(m)])
    limit = 1.0
    started = time.perf_counter()
    result = site(
        demand, candidates, model="mclp", distance_m=2500.0, k=40, engine="own", time_limit=limit
    )
    elapsed = time.perf_counter() - started
    assert elapsed < limit + 2.0
    assert result.seconds["total"] < limit + 1.5
    assert result.status in ("time_limit", "optimal")
    assert len(result.sites) == 40
    assert result.covered_after > 0


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "kw", "words"),
    [
        (lambda d, c: (d.drop(columns="weight"), c), {}, ["weight"]),
        (lambda d, c: (d.assign(weight=-1.0), c), {}, ["weight", "row 1"]),
        (lambda d, c: (d.assign(weight=np.nan), c), {}, ["weight"]),
        (lambda d, c: (d, c.assign(site_id="same")), {}, ["site_id", "same"]),
        (lambda d, c: (d, c.assign(site_id=range(len(c)))), {}, ["site_id", "text"]),
        (lambda d, c: (d.set_geometry(d.buffer(10)), c), {}, ["demand", "points"]),
        (lambda d, c: (d, c), {"k": None}, ["k"]),
        (lambda d, c: (d, c), {"distance_m": None}, ["distance_m"]),
        (lambda d, c: (d, c), {"k": 99}, ["k", "99"]),
        (lambda d, c: (d, c), {"model": "pcenter"}, ["model", "pcenter"]),
        (lambda d, c: (d, c), {"engine": "magic"}, ["engine"]),
        (lambda d, c: (d, c), {"solver": "gurobi"}, ["solver"]),
        (lambda d, c: (d, c), {"time_limit": 0}, ["time_limit"]),
        (lambda d, c: (d.set_crs(None, allow_override=True), c), {}, ["CRS"]),
    ],
)
def test_bad_input_names_what_is_wrong(change, kw, words):
    demand, candidates, *_ = instance(60)
    demand, candidates = change(demand, candidates)
    kw = {"model": "mclp", "distance_m": 1000.0, "k": 2, **kw}
    with pytest.raises(InputError) as caught:
        FacilitySiting(demand, candidates, **kw)
    for word in words:
        assert word in str(caught.value)


# --- helpers ------------------------------------------------------------------------------


def square(x0: float, y0: float, size: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x0 + size, Y0 + y0 + size)


def two_villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "kode": ["15.02.01.2001", "15.02.01.2002"],
            "kecamatan_kode": ["15.02.01", "15.02.01"],
            "population": [1000.0, np.nan],
        },
        geometry=[square(0, 0, 4000), square(4000, 0, 4000)],
        crs=CRS,
    )


def test_demand_and_candidates_from_villages():
    villages = two_villages()
    demand = demand_from_villages(villages)
    assert list(demand["weight"]) == [1000.0, 0.0]
    assert demand.attrs["missing_weight"] == ["15.02.01.2002"]
    assert demand.within(villages.geometry, align=True).all()
    scored = demand_from_villages(
        villages, scores=pd.Series({"15.02.01.2001": 40.0}), weight_by_score=True
    )
    assert scored["weight"].iloc[0] == pytest.approx(400.0)
    result = site(demand, village_candidates(villages), model="mclp", distance_m=100.0, k=1)
    assert "missing_weight" in [n.code for n in result.notes]
    cands = village_candidates(villages)
    assert list(cands["site_id"]) == list(villages["kode"])
    with pytest.raises(InputError, match="population"):
        demand_from_villages(villages.drop(columns="population"))
    with pytest.raises(InputError, match="0 and 100"):
        demand_from_villages(
            villages, scores=pd.Series({"15.02.01.2001": 140.0}), weight_by_score=True
        )


def test_grid_candidates_lie_inside_the_villages_at_the_spacing():
    villages = two_villages()
    grid = grid_candidates(villages, 1000.0)
    assert len(grid) == 32  # 8 x 4 centres at 500, 1500, ... m
    assert grid["site_id"].is_unique
    joined = gpd.sjoin(grid, villages[["kode", "geometry"]], predicate="within")
    assert (joined["kode_left"] == joined["kode_right"]).all()
    xy = np.column_stack([grid.geometry.x - X0, grid.geometry.y - Y0])
    assert set(np.round(xy[:, 0]) % 1000) == {500.0}
    assert (
        grid.loc[grid["site_id"] == "g0_0"]
        .geometry.iloc[0]
        .equals(shapely.Point(X0 + 500, Y0 + 500))
    )
    with pytest.raises(InputError, match="spacing"):
        grid_candidates(villages, 0.5)


def test_layer_candidates_checks_ids():
    layer = points(np.array([[0.0, 0.0], [10.0, 10.0]]), fid=[7, 8], kode=["a", "b"])
    cands = layer_candidates(layer, "fid")
    assert list(cands["site_id"]) == ["7", "8"]
    assert list(cands["kode"]) == ["a", "b"]
    with pytest.raises(InputError, match="repeat"):
        layer_candidates(layer.assign(fid=[1, 1]), "fid")
    with pytest.raises(InputError, match="name"):
        layer_candidates(layer, "name")


def test_demand_from_raster_one_point_per_populated_cell():
    villages = two_villages()
    # 8 x 4 cells of 1 km over both villages, cells straddle nothing (aligned edges)
    people = np.arange(32, dtype=float).reshape(4, 8)
    people[0, 0] = 0.0
    grid = PopulationGrid(people, Affine(1000, 0, X0, 0, -1000, Y0 + 4000), CRS)
    demand = demand_from_raster(villages, grid)
    assert len(demand) == 31  # the empty cell is left out
    assert demand["weight"].sum() == pytest.approx(people.sum())
    west = demand.geometry.x < X0 + 4000
    assert set(demand.loc[west, "kode"]) == {"15.02.01.2001"}
    assert demand.loc[~west, "weight"].sum() == pytest.approx(people[:, 4:].sum())
    weighted = demand_from_raster(
        villages,
        grid,
        scores=pd.Series({"15.02.01.2001": 50.0, "15.02.01.2002": 100.0}),
        weight_by_score=True,
    )
    assert weighted["weight"].sum() == pytest.approx(people[:, :4].sum() / 2 + people[:, 4:].sum())


# --- the Merangin demo --------------------------------------------------------------------


def test_merangin_demo_is_deterministic():
    from layers.demo import DEMO_DIR

    try:
        villages = gpd.read_file(DEMO_DIR / "villages.geojson")
        facilities = gpd.read_file(DEMO_DIR / "facilities_kemenkes.geojson")
        raster = DEMO_DIR / "population.tif"
        demand = demand_from_raster(villages[["kode", "geometry"]], raster)
    except Exception as exc:  # any failure to load the bundle
        pytest.skip(f"the Merangin demo bundle cannot be loaded: {exc}")
    candidates = village_candidates(villages[["kode", "geometry"]])
    runs = []
    for order in (None, 11):
        cands = candidates if order is None else candidates.sample(frac=1.0, random_state=order)
        result = site(
            demand,
            cands,
            facilities,
            model="mclp",
            distance_m=5000.0,
            k=5,
            engine="own",
            mip_gap=1e-4,
        )
        data = result.to_dict()
        data.pop("seconds")
        runs.append(data)
    assert runs[0] == runs[1]
    assert runs[0]["status"] == "optimal"
    assert len(runs[0]["sites"]) == 5
    assert runs[0]["covered_after"] > runs[0]["covered_before"]
    # spopt cannot take the whole bundle in a test's time: compare on its own engine for
    # the same inputs thinned to every tenth demand point
    thin = demand.iloc[::10]
    own = site(thin, candidates, facilities, model="mclp", distance_m=5000.0, k=5, engine="own")
    spopt = site(thin, candidates, facilities, model="mclp", distance_m=5000.0, k=5, engine="spopt")
    assert own.objective == pytest.approx(spopt.objective)
