"""Siting scenarios on the six-village store, checked against every choice of sites.

The store is the one of ``tests/layers/test_scenarios.py``: six villages in a row whose
centres are 0.02 degrees (about 2,226 m) apart, people 1,000 / 2,000 / 500 / 4,000 / 2,500
/ 1,500, scores 0 / 20 / 40 / 60 / 80 / 100. With a reach of 2,500 m a site covers its
own village and its neighbours (the next but one is 4,450 m away). Every expected answer
is found again here by trying every set of candidate sites, with geodesic distances
between the villages' centres (a second way to measure, independent of the projection
the scenario uses).
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from shapely.geometry import Point

from layers.errors import InputError
from layers.indicators import IndicatorSettings
from layers.score_run import run_score
from layers.targeting import scenario_export
from layers.targeting.scenarios import (
    SUMMARY_KEYS,
    compare_scenarios,
    export_scenario,
    run_scenario,
)
from tests.layers.test_scenarios import (
    CENTRES,
    HAND_SCORES,
    KODE,
    POP,
    PROFILE,
    WS,
    _report,
    build_store,
    put_raster,
)

GEOD = pyproj.Geod(ellps="WGS84")
REACH = 2500.0


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def best_cover(demand, weight, candidates, k, reach, existing=()):
    """The k candidates (indices) that newly cover the most weight, trying every set."""
    before = np.array([any(distance(p, e) <= reach for e in existing) for p in demand])
    near = np.array([[distance(p, c) <= reach for c in candidates] for p in demand])
    best, value = None, -1.0
    for chosen in itertools.combinations(range(len(candidates)), k):
        covered = near[:, list(chosen)].any(axis=1) & ~before
        total = float(np.asarray(weight)[covered].sum())
        if total > value + 1e-9:
            best, value = set(chosen), total
    return best, value


def best_median(demand, weight, candidates, k, existing=()):
    """The k candidates with the least total weight x distance to the nearest facility."""
    best, value = None, np.inf
    for chosen in itertools.combinations(range(len(candidates)), k):
        places = [candidates[j] for j in chosen] + list(existing)
        total = sum(
            w * min(distance(p, q) for q in places) for p, w in zip(demand, weight, strict=True)
        )
        if total < value - 1e-6:
            best, value = set(chosen), total
    return best, value


def add_posyandu(store, points: list[tuple[float, float]]) -> None:
    layer = gpd.GeoDataFrame(
        {
            "facility_id": [f"Y{i}" for i in range(len(points))],
            "name": [f"Posyandu {i}" for i in range(len(points))],
            "type": ["posyandu"] * len(points),
            "kode": [KODE[int((x - 102.50) // 0.02)] for x, _ in points],
        },
        geometry=[Point(*p) for p in points],
        crs="EPSG:4326",
    )
    store.put_dataset(
        WS,
        "facilities",
        layer,
        name="posyandu",
        source_name="posyandu.csv",
        source_sha256="5" * 64,
        report=_report("facilities", "posyandu.csv", len(points)),
    )
    # the scenario reads the facilities its score run read
    run_score(store, WS, PROFILE, settings=IndicatorSettings(as_of=date(2025, 6, 30)))


@pytest.fixture
def store(tmp_path):
    store = build_store(tmp_path)
    yield store
    store.close()


def site(store, name, **settings):
    settings = {"facility_type": "posyandu", "distance_m": REACH, **settings}
    return run_scenario(store, WS, name, kind="siting", profile=PROFILE, settings=settings)


# --- coverage ----------------------------------------------------------------------------------


def test_mclp_one_site_covers_the_most_people(store):
    body = site(store, "satu-posyandu", model="mclp", k=1)
    best, value = best_cover(CENTRES, POP, CENTRES, 1, REACH)
    assert best == {4}  # Lima: Empat + Lima + Enam
    assert value == 8000
    summary = body["summary"]
    assert set(summary) == set(SUMMARY_KEYS)
    assert summary["villages"] == [KODE[4]]
    assert summary["villages_selected"] == 1
    assert summary["new_sites"] == 1
    assert summary["people_reached"] == pytest.approx(8000)
    assert summary["people_in_need_reached"] == pytest.approx(
        0.6 * 4000 + 0.8 * 2500 + 1.0 * 1500, abs=0.5
    )
    assert summary["cost"] is None
    assert summary["budget"] is None
    by_kec = {r["kecamatan_kode"]: r for r in summary["by_kecamatan"]}
    assert by_kec["01.01.01"]["selected"] == 0
    assert by_kec["01.01.01"]["people_reached"] == 0
    assert by_kec["01.01.02"]["selected"] == 1
    assert by_kec["01.01.02"]["people_reached"] == pytest.approx(8000)
    assert [n["code"] for n in summary["notes"]] == ["no_existing"]
    assert body["settings"]["k"] == 1
    assert body["settings"]["candidates"] == "villages"
    assert body["result"]["sites"][0]["people_reached"] == pytest.approx(8000)


def test_mclp_two_sites_against_every_pair(store):
    body = site(store, "dua-posyandu", model="mclp", k=2)
    best, value = best_cover(CENTRES, POP, CENTRES, 2, REACH)
    assert best == {1, 4}  # only Dua and Lima together reach everyone
    assert value == POP.sum()
    assert body["summary"]["villages"] == [KODE[1], KODE[4]]
    assert body["summary"]["people_reached"] == pytest.approx(value)
    assert body["summary"]["new_sites"] == 2


def test_existing_posyandu_are_fixed_and_their_people_not_counted_again(store):
    add_posyandu(store, [CENTRES[4]])  # at Lima: Empat, Lima and Enam are covered already
    body = site(store, "tambah-satu", model="mclp", k=1)
    best, value = best_cover(CENTRES, POP, CENTRES, 1, REACH, existing=[CENTRES[4]])
    assert best == {1}  # Dua: Satu + Dua + Tiga
    assert value == 3500
    summary = body["summary"]
    assert summary["villages"] == [KODE[1]]
    assert summary["people_reached"] == pytest.approx(3500)
    assert summary["people_in_need_reached"] == pytest.approx(0.2 * 2000 + 0.4 * 500, abs=0.5)
    assert summary["notes"] == []
    assert body["inputs"]["existing_facilities"].endswith("posyandu@1")


def test_lscp_finds_the_fewest_sites(store):
    add_posyandu(store, [CENTRES[4]])
    body = site(store, "semua-terjangkau", model="lscp")
    assert body["settings"]["k"] is None
    # one site must cover Satu, Dua and Tiga: only Dua reaches all three
    assert body["summary"]["new_sites"] == 1
    assert body["summary"]["villages"] == [KODE[1]]
    assert body["summary"]["people_reached"] == pytest.approx(3500)


def test_pmedian_against_every_site(store):
    body = site(store, "median", model="pmedian", k=1)
    best, _ = best_median(CENTRES, POP, CENTRES, 1)
    assert best == {3}  # Empat: the people-weighted median of the row
    assert body["summary"]["villages"] == [KODE[3]]
    # no posyandu yet: reached are those now within 2,500 m: Tiga, Empat and Lima
    assert body["summary"]["people_reached"] == pytest.approx(500 + 4000 + 2500)


def test_weight_by_score_weighs_the_model_but_people_stay_people(store):
    body = site(store, "butuh", model="mclp", k=1, weight_by_score=True)
    need = POP * HAND_SCORES / 100
    best, value = best_cover(CENTRES, need, CENTRES, 1, REACH)
    assert best == {4}
    assert body["summary"]["villages"] == [KODE[4]]
    assert body["result"]["objective"] == pytest.approx(value, abs=1)  # 5,900 need-weighted
    assert body["summary"]["people_reached"] == pytest.approx(8000)  # people, not weights
    assert body["summary"]["people_in_need_reached"] == pytest.approx(value, abs=1)


def test_distance_defaults_to_the_standard_of_the_type(store):
    body = run_scenario(
        store,
        WS,
        "standar",
        kind="siting",
        profile=PROFILE,
        settings={"facility_type": "posyandu", "k": 1},
    )
    assert body["settings"]["distance_m"] == 2000.0  # posyandu's standard
    assert body["settings"]["model"] == "mclp"


def test_grid_candidates_get_the_code_of_their_village(store):
    body = site(store, "grid", model="mclp", k=2, candidates="grid:1000")
    assert body["settings"]["candidates"] == "grid:1000"
    sites = body["result"]["sites"]
    assert len(sites) == 2
    for row in sites:
        assert row["site_id"].startswith("g")
        # village i spans longitudes 102.50 + 0.02 i to + 0.02
        i = int((row["x"] - 102.50) // 0.02)
        assert row["kode"] == KODE[i]
    # the people reached are those within reach of the two sites it reports
    points = [(row["x"], row["y"]) for row in sites]
    assert body["summary"]["people_reached"] == pytest.approx(
        best_cover(CENTRES, POP, points, 2, REACH)[1]
    )


# --- raster demand -----------------------------------------------------------------------------


def test_raster_demand_counts_the_people_of_each_cell(store):
    put_raster(store)
    body = site(store, "raster", model="mclp", k=1, demand="raster")
    cells = [(x - 0.005, y + 0.005) for x, y in CENTRES]
    best, value = best_cover(cells, POP, CENTRES, 1, REACH)
    assert body["summary"]["villages"] == [KODE[i] for i in best]
    assert body["summary"]["people_reached"] == pytest.approx(value)
    assert body["inputs"]["demand_raster"] == f"{WS}/population@1"


# --- export and compare --------------------------------------------------------------------------


def test_siting_export_lists_the_sites_with_people_and_reasons(store, tmp_path):
    site(store, "satu-posyandu", model="mclp", k=1)
    path = export_scenario(store, WS, "satu-posyandu", tmp_path / "lokasi.csv", "csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert list(rows[0]) == list(scenario_export.COLUMNS) + list(scenario_export.SITE_COLUMNS)
    (row,) = rows
    assert row["kode"] == KODE[4]
    assert row["name"] == "Lima"
    assert row["site_id"] == KODE[4]
    assert float(row["people_reached"]) == pytest.approx(8000)
    assert row["cost"] == ""
    assert row["reason"].startswith(
        "new posyandu site 01.01.02.2005: 8,000 more people within 2,500 m"
    )
    assert "Distance to the nearest puskesmas: 8.9 km (+80.0)" in row["reason"]
    assert float(row["lon"]) == pytest.approx(CENTRES[4][0], abs=0.001)
    assert float(row["lat"]) == pytest.approx(CENTRES[4][1], abs=0.001)


def test_placement_and_siting_compare_side_by_side(store):
    site(store, "satu-posyandu", model="mclp", k=1)
    run_scenario(store, WS, "top-1", kind="placement", profile=PROFILE, settings={"top_n": 1})
    result = compare_scenarios(store, WS, ["top-1", "satu-posyandu"])
    assert [r["people_reached"] for r in result["scenarios"]] == [4000, 8000]
    assert [r["new_sites"] for r in result["scenarios"]] == [None, 1]
    assert [(d["kode"], d["in"]) for d in result["differences"]] == [
        (KODE[3], ["top-1"]),
        (KODE[4], ["satu-posyandu"]),
    ]


def test_a_siting_without_raster_cannot_ask_for_raster_demand(store):
    with pytest.raises(InputError, match="no population raster"):
        site(store, "raster", model="mclp", k=1, demand="raster")


# --- candidate sites from a layer of the workspace ----------------------------------------------


def add_candidate_layer(store, points: list[tuple[float, float]], name: str = "calon") -> None:
    layer = gpd.GeoDataFrame(
        {
            "facility_id": [f"C{i}" for i in range(len(points))],
            "name": [f"Calon {i}" for i in range(len(points))],
            "type": ["other"] * len(points),
            "kode": [KODE[min(round((x - 102.51) / 0.02), 5)] for x, _ in points],
        },
        geometry=[Point(*p) for p in points],
        crs="EPSG:4326",
    )
    store.put_dataset(
        WS,
        "facilities",
        layer,
        name=name,
        source_name="calon.csv",
        source_sha256="6" * 64,
        report=_report("facilities", "calon.csv", len(points)),
    )


def test_candidate_sites_can_come_from_a_point_layer(store):
    # Three proposed sites: at Dua's centre, halfway between Empat and Lima, at Enam's centre.
    (x1, y1), (x3, _), (x4, _), (x5, y5) = CENTRES[1], CENTRES[3], CENTRES[4], CENTRES[5]
    proposed = [(x1, y1), ((x3 + x4) / 2, y1), (x5, y5)]
    add_candidate_layer(store, proposed)
    body = site(store, "dari-lapisan", model="mclp", k=1, candidates="layer:calon")
    best, value = best_cover(CENTRES, POP, proposed, 1, REACH)
    assert [s["site_id"] for s in body["result"]["sites"]] == [f"C{j}" for j in sorted(best)]
    assert body["summary"]["people_reached"] == pytest.approx(value)
    assert body["settings"]["candidates"] == "layer:calon"
    assert body["inputs"]["candidates_layer"] == f"{WS}/calon@1"


def test_a_candidate_layer_must_be_points_of_the_workspace(store):
    from layers.errors import NotFoundError

    with pytest.raises(NotFoundError, match="tidak-ada"):
        site(store, "salah", model="mclp", k=1, candidates="layer:tidak-ada")
    with pytest.raises(InputError, match="facilities or needs dataset") as caught:
        site(store, "salah", model="mclp", k=1, candidates="layer:villages")
    assert caught.value.params["setting"] == "candidates"
    with pytest.raises(InputError, match="not a dataset name"):
        site(store, "salah", model="mclp", k=1, candidates="layer:Bukan Nama")
