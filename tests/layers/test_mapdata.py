"""The map's data: values and legends, village details, search, outlines, points, sharing.

Built on the five-village workspace of ``test_score_run`` (five 0.02-degree squares in a row
near 102.5 E, 2.0 S; two puskesmas, three posyandu, nine needs), with values checked by
hand: the ``musrenbang`` profile scores ``100 * (2 * minmax(distance) + minmax(health
needs per 1,000)) / 3``.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import box, shape

from layers import mapdata
from layers.errors import InputError, NotFoundError
from layers.indicators import IndicatorSettings
from layers.mapdata.cache import MAP_RUN_NOTE, Memo
from layers.score_run import RUNS, run_score
from layers.scoring import CLASS_LABELS
from tests.layers.test_score_run import (
    AS_OF,
    CENTRES,
    HEALTH_PER_1000,
    KODES,
    PUSKESMAS,
    WS,
    build_workspace,
    hand_scores,
    import_text,
    musrenbang_profile,
)

YLORRD_5 = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
YLGNBU_5 = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]
NEED_LABELS = [
    "Very low need",
    "Low need",
    "Moderate need",
    "High need",
    "Very high need",
]


@pytest.fixture
def workspace(tmp_path):
    """The five villages with one saved ``musrenbang`` run as of 2025-06-30."""
    store, refs = build_workspace(tmp_path)
    run_score(store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF))
    yield store, refs
    store.close()


def geodesic_distances() -> np.ndarray:
    """Metres from each village centre to the nearest puskesmas, on the ellipsoid."""
    geod = pyproj.Geod(ellps="WGS84")
    return np.array([min(geod.inv(x, y, px, py)[2] for px, py in PUSKESMAS) for x, y in CENTRES])


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation quantile written out: position q * (n - 1) between neighbours."""
    position = q * (len(sorted_values) - 1)
    below = int(np.floor(position))
    above = min(below + 1, len(sorted_values) - 1)
    return sorted_values[below] + (position - below) * (sorted_values[above] - sorted_values[below])


# --- map_values ----------------------------------------------------------------------------


def test_score_values_classes_and_legend_boundaries(workspace):
    store, refs = workspace
    mv = mapdata.map_values(store, WS, "musrenbang")
    assert mv.run_ref == f"{WS}/{RUNS}/musrenbang@1"
    assert mv.villages_ref == refs["villages"]
    assert mv.indicator is None
    assert mv.unit is None
    assert mv.values.index.tolist() == KODES
    expected = hand_scores(geodesic_distances(), np.array(HEALTH_PER_1000))
    assert mv.values["value"].to_numpy() == pytest.approx(expected, abs=0.05)
    # Tiga is farthest from a puskesmas; Satu has a puskesmas and the most needs.
    assert mv.values.loc[KODES[2], "value"] == pytest.approx(100 * (2 + 1.5 / 3.5) / 3, abs=1e-9)
    assert mv.values.loc[KODES[0], "value"] == pytest.approx(100 / 3, abs=1e-6)
    assert mv.values["rank"].tolist() == [3, 2, 1, 4, 5]
    assert mv.values["class"].tolist() == [3, 4, 5, 2, 1]
    assert str(mv.values["class"].dtype) == "Int64"

    legend = mv.legend
    assert [item["class"] for item in legend] == [1, 2, 3, 4, 5, None]
    assert [item["label"] for item in legend[:5]] == NEED_LABELS
    assert [item["label_id"] for item in legend] == [
        "very_low", "low", "moderate", "high", "very_high", "no_data",
    ]  # fmt: skip
    assert [item["colour"] for item in legend[:5]] == YLORRD_5
    assert legend[5]["colour"] == mapdata.NO_DATA_COLOUR
    assert [item["count"] for item in legend] == [1, 1, 1, 1, 1, 0]
    ordered = sorted(expected)
    breaks = [quantile(ordered, q) for q in (0.2, 0.4, 0.6, 0.8, 1.0)]
    assert legend[0]["lower"] == pytest.approx(ordered[0], abs=0.05)
    for c in range(5):
        assert legend[c]["upper"] == pytest.approx(breaks[c], abs=0.05)
        if c:
            assert legend[c]["lower"] == pytest.approx(breaks[c - 1], abs=0.05)
    assert legend[5]["lower"] is None
    assert legend[5]["upper"] is None
    # every village's score lies within its class's bounds
    for kode, row in mv.values.iterrows():
        item = legend[int(row["class"]) - 1]
        assert item["lower"] - 1e-9 <= row["value"] <= item["upper"] + 1e-9, kode

    assert mv.key.startswith(f"{refs['villages']}|{WS}/{RUNS}/musrenbang@1|score|")
    assert mapdata.map_values(store, WS, "musrenbang") is mv  # kept in memory


def test_values_to_dict_translates_the_labels(workspace):
    store, _refs = workspace
    mv = mapdata.map_values(store, WS, "musrenbang")
    words = {"Very high need": "Kebutuhan sangat tinggi", "No data": "Tidak ada data"}
    data = mv.to_dict(lambda text: words.get(text, text))
    json.dumps(data)  # JSON-ready
    assert data["run"] == mv.run_ref
    assert data["key"] == mv.key
    assert data["version"] == mv.version
    assert len(mv.version) == 16
    assert data["legend"][4]["label"] == "Kebutuhan sangat tinggi"
    assert data["legend"][4]["label_id"] == "very_high"
    assert data["legend"][5]["label"] == "Tidak ada data"
    assert data["palette"] == "YlOrRd"
    assert mv.legend[4]["label"] == "Very high need"  # the object is unchanged


def test_indicator_values_are_cut_into_five_quantile_classes(workspace):
    store, _refs = workspace
    mv = mapdata.map_values(store, WS, "musrenbang", "needs_per_1000__health")
    assert mv.indicator == "needs_per_1000__health"
    assert mv.unit == "per 1,000 people"
    assert mv.values["value"].tolist() == pytest.approx(HEALTH_PER_1000)  # 4, 3.5, 2, 0.5, 2
    # Sorted 0.5, 2, 2, 3.5, 4: quantiles at 0.2..1.0 by hand are 1.7, 2.0, 2.6, 3.6, 4.0.
    # 0.5 -> 1; 2 -> 2 (up to and including 2.0); 3.5 -> 4; 4 -> 5.
    assert mv.values["class"].tolist() == [5, 4, 2, 1, 2]
    # Rank 1 = highest value; Tiga and Lima tie at 2 and go by code.
    assert mv.values["rank"].tolist() == [1, 2, 3, 5, 4]
    legend = mv.legend
    assert [item["label"] for item in legend[:5]] == [
        "Lowest values", "Low values", "Middle values", "High values", "Highest values",
    ]  # fmt: skip
    assert [item["colour"] for item in legend[:5]] == YLGNBU_5
    assert [item["lower"] for item in legend[:5]] == pytest.approx([0.5, 1.7, 2.0, 2.6, 3.6])
    assert [item["upper"] for item in legend[:5]] == pytest.approx([1.7, 2.0, 2.6, 3.6, 4.0])
    assert [item["count"] for item in legend] == [1, 2, 0, 1, 1, 0]
    assert mv.key.split("|")[2] == "needs_per_1000__health"
    assert mv.key != mapdata.map_values(store, WS, "musrenbang").key
    assert mv.to_dict()["label"] == "Severity-weighted needs per 1,000 people: health"


def test_an_indicator_with_missing_values_leaves_them_unclassed(workspace, tmp_path):
    store, _refs = workspace
    table = "kode,sumur\n1502012001,10\n1502012002,30\n1502012004,20\n"
    import_text(store, tmp_path, "survei.csv", table, "indicators", name="survei")
    run_score(store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF))
    mv = mapdata.map_values(store, WS, "musrenbang", "survei__sumur")
    assert mv.run_ref.endswith("musrenbang@2")
    assert mv.values["value"].tolist()[:2] == [10.0, 30.0]
    assert np.isnan(mv.values["value"].iloc[2])
    assert np.isnan(mv.values["value"].iloc[4])
    assert mv.values["class"].isna().tolist() == [False, False, True, False, True]
    assert mv.values["rank"].tolist()[:2] == [3, 1]
    assert mv.values["rank"].iloc[3] == 2
    assert mv.values["rank"].isna().sum() == 2
    assert mv.legend[-1]["count"] == 2  # no data
    assert sum(item["count"] for item in mv.legend[:5]) == 3
    assert mv.unit == "value"
    assert mv.to_dict()["label"] == "sumur (survei)"


@pytest.mark.parametrize("indicator", ["nope", "score", "rank", "need_class"])
def test_an_unknown_indicator_is_refused(workspace, indicator):
    store, _refs = workspace
    with pytest.raises(InputError, match="has no indicator") as info:
        mapdata.map_values(store, WS, "musrenbang", indicator)
    assert "needs_per_1000__health" in str(info.value)


def test_unknown_and_malformed_profiles_and_workspaces(workspace):
    store, _refs = workspace
    with pytest.raises(NotFoundError, match="no scoring profile called 'nope'"):
        mapdata.map_values(store, WS, "nope")
    with pytest.raises(InputError, match="is not a profile name"):
        mapdata.map_values(store, WS, "Bad Name")
    with pytest.raises(NotFoundError, match="no workspace"):
        mapdata.map_values(store, "tidak-ada", "musrenbang")
    assert [r.name for r in store.list_records(WS, RUNS)] == ["musrenbang"]  # nothing run


def test_a_profile_without_a_run_gets_one_computed_and_saved_once(workspace):
    store, _refs = workspace
    mv = mapdata.map_values(store, WS, "health_access")
    record = store.get_record(WS, RUNS, "health_access")
    assert mv.run_ref == record.ref == f"{WS}/{RUNS}/health_access@1"
    assert record.note == MAP_RUN_NOTE
    assert mapdata.map_values(store, WS, "health_access").run_ref == mv.run_ref
    assert len(store.list_records(WS, RUNS, all_versions=True)) == 2  # musrenbang + this one
    # A newer run is picked up, with a new key (new tiles).
    newer = run_score(store, WS, "health_access")
    again = mapdata.map_values(store, WS, "health_access")
    assert again.run_ref == newer.ref == f"{WS}/{RUNS}/health_access@2"
    assert again.key != mv.key


def test_parallel_requests_compute_a_missing_run_once(workspace):
    store, _refs = workspace
    results, errors = [], []

    def ask():
        try:
            results.append(mapdata.map_values(store, WS, "education").run_ref)
        except Exception as exc:  # collected and failed on below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert results == [f"{WS}/{RUNS}/education@1"] * 4
    assert store.get_record(WS, RUNS, "education").version == 1


def test_memo_makes_each_value_once_and_forgets_the_oldest():
    memo = Memo(2)
    made = []

    def make(value):
        made.append(value)
        return value

    assert memo.get("a", lambda: make(1)) == 1
    assert memo.get("a", lambda: make(2)) == 1
    memo.get("b", lambda: make(3))
    memo.get("c", lambda: make(4))
    assert "a" not in memo
    assert "b" in memo
    assert "c" in memo
    assert made == [1, 3, 4]
    with pytest.raises(ZeroDivisionError):
        memo.get("d", lambda: 1 / 0)
    assert memo.get("d", lambda: make(5)) == 5  # a failure is not kept


# --- village detail ------------------------------------------------------------------------


def test_village_detail_explains_the_score(workspace):
    store, refs = workspace
    detail = mapdata.village_detail(store, WS, "musrenbang", KODES[2])
    json.dumps(detail)
    assert detail["name"] == "Tiga"
    assert detail["codes"] == {
        "kode": "15.02.01.2003",
        "kecamatan_kode": "15.02.01",
        "kabupaten_kode": "15.02",
        "provinsi_kode": "15",
    }
    assert detail["kecamatan"] == "Bangko"
    assert detail["kabupaten"] is None
    assert detail["bounds"] == pytest.approx([102.54, -2.01, 102.56, -1.99])
    assert detail["run"] == f"{WS}/{RUNS}/musrenbang@1"
    assert detail["villages"] == refs["villages"]
    assert detail["profile"] == "musrenbang"
    assert detail["score"] == pytest.approx(100 * (2 + 1.5 / 3.5) / 3, abs=1e-9)
    assert (detail["rank"], detail["ranked"], detail["need_class"]) == (1, 5, 5)
    assert detail["class_label"] == "very_high"
    assert detail["class_name"] == CLASS_LABELS["very_high"]
    assert detail["weight_used"] == pytest.approx(1.0)
    assert detail["reason"] is None
    # Distance first: 2/3 of the weight at the maximum (normalised 1); then health needs,
    # (2 - 0.5) / (4 - 0.5) of 1/3 of the weight.
    ids = [i["id"] for i in detail["indicators"]]
    assert ids == ["dist_m__puskesmas", "needs_per_1000__health"]
    first, second = detail["indicators"]
    assert first["contribution"] == pytest.approx(200 / 3, abs=1e-9)
    assert first["normalised"] == pytest.approx(1.0)
    assert first["weight"] == 2.0
    assert first["effective_weight"] == pytest.approx(2 / 3)
    assert first["label"] == "Distance to the nearest %(type)s"
    assert first["params"] == {"type": "puskesmas"}
    assert first["unit"] == "m"
    assert first["raw"] == pytest.approx(geodesic_distances()[2], rel=1e-3)
    assert second["contribution"] == pytest.approx(100 / 3 * 1.5 / 3.5, abs=1e-9)
    assert second["raw"] == pytest.approx(2.0)
    assert second["params"] == {"category": "health"}
    total = sum(i["contribution"] for i in detail["indicators"])
    assert total == pytest.approx(detail["score"], abs=1e-9)
    # Tiga: no facility; two health needs, one of them addressed.
    assert detail["facilities"] == {"total": 0, "by_type": {}}
    assert detail["needs"] == {"total": 2, "open": 1, "by_category": {"health": 2}}


def test_village_detail_orders_contributions_and_counts_for_every_village(workspace):
    store, _refs = workspace
    for kode in KODES:
        detail = mapdata.village_detail(store, WS, "musrenbang", kode)
        points = [i["contribution"] for i in detail["indicators"]]
        assert points == sorted(points, reverse=True)
        assert sum(points) == pytest.approx(detail["score"], abs=1e-9)
    dua = mapdata.village_detail(store, WS, "musrenbang", KODES[1])
    assert dua["facilities"] == {"total": 2, "by_type": {"posyandu": 2}}
    assert dua["needs"] == {"total": 2, "open": 2, "by_category": {"health": 2}}
    empat = mapdata.village_detail(store, WS, "musrenbang", KODES[3])
    assert empat["needs"] == {"total": 2, "open": 2, "by_category": {"health": 1, "water": 1}}
    lima = mapdata.village_detail(store, WS, "musrenbang", KODES[4])
    assert lima["facilities"] == {"total": 1, "by_type": {"puskesmas": 1}}


def test_village_detail_in_another_language(workspace):
    store, _refs = workspace
    words = {
        "Distance to the nearest %(type)s": "Jarak ke %(type)s terdekat",
        "puskesmas": "Puskesmas",
        "Very high need": "Kebutuhan sangat tinggi",
        "m": "m",
    }
    detail = mapdata.village_detail(
        store, WS, "musrenbang", KODES[2], gettext=lambda text: words.get(text, text)
    )
    assert detail["indicators"][0]["label"] == "Jarak ke Puskesmas terdekat"
    assert detail["indicators"][0]["params"] == {"type": "puskesmas"}
    assert detail["class_name"] == "Kebutuhan sangat tinggi"


def test_village_detail_of_an_unknown_code(workspace):
    store, _refs = workspace
    with pytest.raises(NotFoundError, match=r"no village with code '15\.02\.01\.9999'"):
        mapdata.village_detail(store, WS, "musrenbang", "15.02.01.9999")


def test_indicator_labels_from_ids():
    settings = {"standards_m": {"puskesmas": 5000.0}, "distance_columns": ["r502ek3"]}
    assert mapdata.indicator_info("share_beyond__puskesmas", settings) == (
        "Share of people farther than %(standard)s m from a %(type)s",
        {"type": "puskesmas", "standard": "5000"},
        "share",
    )
    assert mapdata.indicator_info("needs_per_1000__all")[2] == "per 1,000 people"
    assert mapdata.indicator_info("needs_open")[1] == {}
    assert mapdata.indicator_info("podes2019__r502ek3", settings) == (
        "%(column)s (%(dataset)s)",
        {"column": "r502ek3", "dataset": "podes2019"},
        "km",
    )
    assert mapdata.indicator_info("podes2019__jarak_sd")[2] == "km"
    assert mapdata.indicator_info("idm__skor")[2] == "value"
    label, params, _unit = mapdata.indicator_info("fac_count__sd")
    assert mapdata.render_label(label, params) == (
        "Facilities of type primary school (SD) in the village"
    )


# --- search --------------------------------------------------------------------------------


def names(found):
    return [v["name"] for v in found]


def test_search_by_code_prefix(workspace):
    store, _refs = workspace
    assert names(mapdata.search_villages(store, WS, "15.02.01")) == [
        "Satu", "Dua", "Tiga", "Empat", "Lima",
    ]  # fmt: skip
    assert names(mapdata.search_villages(store, WS, "1502012")) == [
        "Satu", "Dua", "Tiga", "Empat", "Lima",
    ]  # fmt: skip
    assert names(mapdata.search_villages(store, WS, "15.02.01.2004")) == ["Empat"]
    assert names(mapdata.search_villages(store, WS, "1502012005")) == ["Lima"]
    assert names(mapdata.search_villages(store, WS, "15.02.01", limit=2)) == ["Satu", "Dua"]
    assert mapdata.search_villages(store, WS, "16") == []
    found = mapdata.search_villages(store, WS, "15.02.01.2003")[0]
    assert found == {
        "kode": "15.02.01.2003",
        "name": "Tiga",
        "kecamatan": "Bangko",
        "kabupaten": None,
        "bounds": pytest.approx([102.54, -2.01, 102.56, -1.99]),
    }


def test_search_by_name_ignores_case(workspace):
    store, _refs = workspace
    assert names(mapdata.search_villages(store, WS, "LIMA")) == ["Lima"]
    assert names(mapdata.search_villages(store, WS, "tI")) == ["Tiga"]
    # Names that start with "t" first, then those containing it, by name.
    assert names(mapdata.search_villages(store, WS, "t")) == ["Tiga", "Empat", "Satu"]
    assert names(mapdata.search_villages(store, WS, "  ua ")) == ["Dua"]
    assert mapdata.search_villages(store, WS, "jakarta") == []


@pytest.mark.parametrize(("q", "limit"), [("", 20), ("   ", 20), ("tiga", 0), ("tiga", 101)])
def test_search_refuses_an_empty_query_or_a_bad_limit(workspace, q, limit):
    store, _refs = workspace
    with pytest.raises(InputError):
        mapdata.search_villages(store, WS, q, limit)


# --- outlines ------------------------------------------------------------------------------


def two_kecamatan_geojson(width: float = 0.02) -> str:
    """The five squares again, the last two in kecamatan 15.02.02 (Tabir); wider than 0.02
    degrees, each overlaps the next."""
    features = []
    for i in range(5):
        x0 = 102.50 + 0.02 * i
        kec, code = ("Bangko", f"150201200{i + 1}") if i < 3 else ("Tabir", f"150202200{i + 1}")
        x1 = x0 + width
        ring = [[x0, -2.01], [x1, -2.01], [x1, -1.99], [x0, -1.99], [x0, -2.01]]
        features.append(
            {
                "type": "Feature",
                "properties": {"kode": code, "nama": f"Desa {i + 1}", "kecamatan": kec},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features})


def test_outlines_dissolve_villages_by_kecamatan_and_kabupaten(workspace, tmp_path):
    store, _refs = workspace
    one = mapdata.area_outlines(store, WS, "kecamatan")
    assert [f["properties"]["kode"] for f in one["features"]] == ["15.02.01"]
    assert one["features"][0]["properties"]["villages"] == 5
    assert one["features"][0]["geometry"]["type"] == "Polygon"  # touching squares join
    assert one["method"] == "coverage"  # edge to edge: a coverage union
    assert shape(one["features"][0]["geometry"]).area == pytest.approx(
        box(102.5, -2.01, 102.6, -1.99).area, rel=1e-6
    )

    import_text(store, tmp_path, "desa2.geojson", two_kecamatan_geojson(), "villages")
    outlines = mapdata.area_outlines(store, WS, "kecamatan")
    json.dumps(outlines)
    assert outlines["method"] == "coverage"
    assert outlines["type"] == "FeatureCollection"
    props = [f["properties"] for f in outlines["features"]]
    assert [(p["kode"], p["name"], p["villages"]) for p in props] == [
        ("15.02.01", "Bangko", 3),
        ("15.02.02", "Tabir", 2),
    ]
    shapes = [shape(f["geometry"]) for f in outlines["features"]]
    assert shapes[0].area == pytest.approx(box(102.50, -2.01, 102.56, -1.99).area, rel=1e-6)
    assert shapes[1].area == pytest.approx(box(102.56, -2.01, 102.60, -1.99).area, rel=1e-6)
    villages = store.read_dataset(WS, "villages")
    union = shapely.union_all(villages.geometry.to_numpy(), grid_size=1e-9)
    assert shapely.union_all(shapes).area == pytest.approx(union.area, rel=1e-6)
    for p, s in zip(props, shapes, strict=True):
        assert s.contains(shapely.Point(p["label_point"]))

    kabupaten = mapdata.area_outlines(store, WS, "kabupaten")
    assert [f["properties"]["kode"] for f in kabupaten["features"]] == ["15.02"]
    assert kabupaten["features"][0]["properties"]["name"] == "15.02"  # no name in the data
    assert kabupaten["features"][0]["properties"]["villages"] == 5
    assert shape(kabupaten["features"][0]["geometry"]).area == pytest.approx(union.area, rel=1e-6)
    assert mapdata.area_outlines(store, WS, "kecamatan") is outlines  # kept per version


def test_outlines_of_overlapping_villages(workspace, tmp_path):
    store, _refs = workspace
    geojson = two_kecamatan_geojson(width=0.025)  # each square reaches into the next
    import_text(store, tmp_path, "tumpang.geojson", geojson, "villages")
    outlines = mapdata.area_outlines(store, WS, "kecamatan")
    assert outlines["method"] == "union"
    shapes = [shape(f["geometry"]) for f in outlines["features"]]
    assert [s.geom_type for s in shapes] == ["Polygon", "Polygon"]
    # Bangko's last square reaches 0.005 degrees into Tabir's first: the areas overlap there.
    assert shapes[0].area == pytest.approx(0.065 * 0.02, rel=1e-6)
    assert shapes[1].area == pytest.approx(0.045 * 0.02, rel=1e-6)
    union = box(102.5, -2.01, 102.605, -1.99)
    assert shapely.union_all(shapes).area == pytest.approx(union.area, rel=1e-6)


def test_an_unknown_level_is_refused(workspace):
    store, _refs = workspace
    with pytest.raises(InputError, match="unknown area level 'desa'"):
        mapdata.area_outlines(store, WS, "desa")


# --- points --------------------------------------------------------------------------------


def test_points_in_a_bbox(workspace):
    store, refs = workspace
    west = "102.5,-2.01,102.54,-1.99"  # Satu and Dua
    facilities = mapdata.points_geojson(store, WS, "facilities", west)
    json.dumps(facilities)
    assert facilities["total"] == 3
    assert not facilities["truncated"]
    assert facilities["datasets"] == [refs["facilities"]]
    props = sorted((f["properties"] for f in facilities["features"]), key=lambda p: p["name"])
    assert [p["name"] for p in props] == ["Posyandu Mawar", "Posyandu Melati", "Puskesmas Satu"]
    assert props[2] == {
        "facility_id": "F0000002",
        "name": "Puskesmas Satu",
        "type": "puskesmas",
        "sector": "health",
        "dataset": "facilities",
    }
    coords = sorted(tuple(f["geometry"]["coordinates"]) for f in facilities["features"])
    assert coords == [(102.51, -2.0), (102.53, -2.0), (102.531, -2.002)]

    needs = mapdata.points_geojson(store, WS, "needs", west)
    assert needs["total"] == 3
    first = sorted(needs["features"], key=lambda f: f["properties"]["need_id"])[0]
    assert first["properties"] == {
        "need_id": "N0000002",
        "category": "health",
        "severity": 4,
        "status": "open",
        "reported_date": "2025-03-01",
        "dataset": "needs",
    }
    everything = mapdata.points_geojson(store, WS, "needs", (102.4, -2.1, 102.7, -1.9))
    assert everything["total"] == 9
    east = mapdata.points_geojson(store, WS, "facilities", "102.56,-2.01,102.6,-1.99")
    assert sorted(f["properties"]["name"] for f in east["features"]) == [
        "Posyandu Anggrek", "Puskesmas Lima",
    ]  # fmt: skip
    assert mapdata.points_geojson(store, WS, "needs", "100,0,101,1")["features"] == []


def test_points_beyond_the_limit_are_truncated(workspace):
    store, _refs = workspace
    found = mapdata.points_geojson(store, WS, "needs", "102.4,-2.1,102.7,-1.9", limit=4)
    assert found["truncated"] is True
    assert found["total"] == 9
    assert len(found["features"]) == 4
    assert len({f["properties"]["need_id"] for f in found["features"]}) == 4


@pytest.mark.parametrize(
    "bbox",
    ["1,2,3", "1,2,3,4,5", "a,b,c,d", "", "3,0,1,1", "0,1,1,0", "0,-91,1,0", "179,0,181,1",
     "-181,0,0,1", "0,0,1,nan", "0,0,inf,1", [1, 2, 3]],
)  # fmt: skip
def test_a_bad_bbox_is_refused(workspace, bbox):
    store, _refs = workspace
    with pytest.raises(InputError, match="bbox"):
        mapdata.points_geojson(store, WS, "facilities", bbox)


def test_an_unknown_point_layer_or_limit_is_refused(workspace):
    store, _refs = workspace
    with pytest.raises(InputError, match="unknown point layer 'roads'"):
        mapdata.points_geojson(store, WS, "roads", "0,0,1,1")
    with pytest.raises(InputError, match="number of points"):
        mapdata.points_geojson(store, WS, "needs", "0,0,1,1", limit=0)
    with pytest.raises(InputError, match="number of points"):
        mapdata.points_geojson(store, WS, "needs", "0,0,1,1", limit=20001)


# --- annotations ---------------------------------------------------------------------------

POINT = {"type": "Point", "coordinates": [102.51, -2.0]}
LINE = {"type": "LineString", "coordinates": [[102.51, -2.0], [102.55, -2.0]]}
AREA = {
    "type": "Polygon",
    "coordinates": [[[102.5, -2.0], [102.52, -2.0], [102.52, -1.99], [102.5, -2.0]]],
}


def test_annotations_are_added_listed_and_filtered_by_time(workspace):
    store, _refs = workspace
    assert mapdata.list_annotations(store, WS) == []
    first = mapdata.add_annotation(store, WS, POINT, "Jalan putus", "ani", KODES[0])
    second = mapdata.add_annotation(store, WS, LINE, "", "  budi  ", "")
    third = mapdata.add_annotation(store, WS, AREA, "Banjir 2024", "ani")
    assert uuid.UUID(first["id"]).version == 4
    assert first["geometry"] == POINT
    assert first["note"] == "Jalan putus"
    assert first["author"] == "ani"
    assert first["kode"] == KODES[0]
    assert second["author"] == "budi"
    assert second["kode"] is None
    assert third["geometry"]["type"] == "Polygon"
    created = datetime.fromisoformat(first["created_at"])
    assert created.tzinfo is not None
    assert created.utcoffset() == timedelta(0)
    record = store.get_record(WS, mapdata.ANNOTATIONS, first["id"])
    assert record.body["note"] == "Jalan putus"
    assert record.created_by == "ani"

    listed = mapdata.list_annotations(store, WS)
    assert [a["id"] for a in listed] == [first["id"], second["id"], third["id"]]
    assert listed[0] == first
    later = mapdata.list_annotations(store, WS, since=first["created_at"])
    assert [a["id"] for a in later] == [second["id"], third["id"]]
    as_time = mapdata.list_annotations(store, WS, since=datetime.fromisoformat(third["created_at"]))
    assert as_time == []
    # A time without zone counts as UTC; 'Z' is read as UTC.
    naive = datetime.fromisoformat(second["created_at"]).replace(tzinfo=None).isoformat()
    assert [a["id"] for a in mapdata.list_annotations(store, WS, since=naive)] == [third["id"]]
    zulu = (created - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(mapdata.list_annotations(store, WS, since=zulu)) == 3
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert mapdata.list_annotations(store, WS, since=future) == []


@pytest.mark.parametrize(
    ("geometry", "match"),
    [
        ({"type": "MultiPoint", "coordinates": [[102.5, -2.0]]}, "must be a GeoJSON"),
        ("POINT (102.5 -2)", "must be a GeoJSON"),
        ({"type": "Point", "coordinates": ["x", "y"]}, "cannot be read"),
        ({"type": "Point"}, "cannot be read"),
        ({"type": "Point", "coordinates": [-2.0, 102.5]}, "latitude -90 to 90"),
        ({"type": "Point", "coordinates": [200.0, 0.0]}, "longitude -180 to 180"),
        ({"type": "LineString", "coordinates": []}, "empty"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "not valid",
        ),
        ({"type": "LineString", "coordinates": [[0.0, 0.0]] * 5001}, "at most 5000"),
    ],
)
def test_annotation_geometries_are_checked(workspace, geometry, match):
    store, _refs = workspace
    with pytest.raises(InputError, match=match):
        mapdata.add_annotation(store, WS, geometry, "catatan", "ani")
    assert mapdata.list_annotations(store, WS) == []


def test_annotation_note_author_and_village_are_checked(workspace):
    store, _refs = workspace
    assert mapdata.add_annotation(store, WS, POINT, "x" * 2000, "ani")["note"] == "x" * 2000
    with pytest.raises(InputError, match="2001 characters; at most 2000"):
        mapdata.add_annotation(store, WS, POINT, "x" * 2001, "ani")
    with pytest.raises(InputError, match="must be text"):
        mapdata.add_annotation(store, WS, POINT, 5, "ani")
    for author in (None, "", "   ", 7):
        with pytest.raises(InputError, match="author"):
            mapdata.add_annotation(store, WS, POINT, "catatan", author)
    with pytest.raises(InputError, match="at most 100"):
        mapdata.add_annotation(store, WS, POINT, "catatan", "a" * 101)
    with pytest.raises(InputError, match=r"no village with code '15\.02\.01\.9999'"):
        mapdata.add_annotation(store, WS, POINT, "catatan", "ani", "15.02.01.9999")
    with pytest.raises(InputError, match="since must be a date and time"):
        mapdata.list_annotations(store, WS, since="kemarin")
    with pytest.raises(NotFoundError):
        mapdata.add_annotation(store, "tidak-ada", POINT, "catatan", "ani")
    assert len(mapdata.list_annotations(store, WS)) == 1


# --- presenter -----------------------------------------------------------------------------

VIEW = {
    "center": [-2.0, 102.55],
    "zoom": 13,
    "profile": "musrenbang",
    "indicator": None,
    "layers": ["villages", "facilities"],
}


def test_presenter_view_round_trip(workspace):
    store, _refs = workspace
    assert mapdata.get_presenter_view(store, WS) is None
    saved = mapdata.set_presenter_view(store, WS, VIEW, "camat")
    assert saved["version"] == 1
    assert saved["author"] == "camat"
    assert saved["view"] == {**VIEW, "zoom": 13.0, "kode": None, "kec": None}
    assert mapdata.get_presenter_view(store, WS) == saved
    moved = mapdata.set_presenter_view(
        store, WS, {"center": [-2.0, 102.51], "zoom": 15.5, "kode": KODES[0]}, "camat"
    )
    assert moved["version"] == 2
    assert moved["view"]["kode"] == KODES[0]
    assert moved["view"]["layers"] == []
    assert mapdata.get_presenter_view(store, WS) == moved
    assert datetime.fromisoformat(moved["updated_at"]) >= datetime.fromisoformat(
        saved["updated_at"]
    )


@pytest.mark.parametrize(
    ("view", "match"),
    [
        ([1, 2], "must be an object"),
        ({"center": [-2.0, 102.5]}, "missing: zoom"),
        ({**VIEW, "bearing": 30}, "unknown: bearing"),
        ({**VIEW, "center": [-2.0]}, r"\[latitude, longitude\]"),
        ({**VIEW, "center": [102.5, -2.0]}, "latitude must be a number from -90"),
        ({**VIEW, "center": [-2.0, "x"]}, "longitude"),
        ({**VIEW, "zoom": 23}, "zoom must be a number from 0 to 22"),
        ({**VIEW, "zoom": True}, "zoom"),
        ({**VIEW, "layers": "villages"}, "list of at most"),
        ({**VIEW, "layers": [1]}, "list of at most"),
        ({**VIEW, "profile": "Bad Name"}, "not a profile name"),
    ],
)
def test_presenter_views_are_checked(workspace, view, match):
    store, _refs = workspace
    with pytest.raises(InputError, match=match):
        mapdata.set_presenter_view(store, WS, view, "camat")
    assert mapdata.get_presenter_view(store, WS) is None


# --- events --------------------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when slept, calling ``on_sleep`` first."""

    def __init__(self, on_sleep=None):
        self.now = 0.0
        self.on_sleep = on_sleep or (lambda now: None)

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.on_sleep(self.now)
        self.now += seconds


def test_events_bring_new_annotations_and_presenter_views(workspace):
    store, _refs = workspace
    old = mapdata.add_annotation(store, WS, POINT, "sebelum", "ani")
    mapdata.set_presenter_view(store, WS, VIEW, "camat")
    added = {}

    def meanwhile(now):
        if now == 0.0:
            added["a"] = mapdata.add_annotation(store, WS, LINE, "baru", "budi")
        elif now == 1.0:
            added["p"] = mapdata.set_presenter_view(store, WS, {**VIEW, "zoom": 10}, "camat")

    fake = FakeTime(meanwhile)
    events = list(
        mapdata.map_events(
            store,
            WS,
            since=old["created_at"],
            seconds=3,
            interval=1,
            overlap=timedelta(0),
            clock=fake.clock,
            sleep=fake.sleep,
        )
    )
    assert [e.name for e in events] == ["ready", "annotation", "presenter"]
    assert events[1].data == added["a"]
    assert events[2].data == added["p"]
    assert events[2].data["version"] == 2
    assert fake.now == 3.0  # polled at 0, 1, 2 and 3, then stopped

    # Reconnecting with the last id sends nothing old again (the presenter view, the
    # annotation long before), and sends what is new.
    later = {}

    def add_once(now):
        if not later:
            later["a"] = mapdata.add_annotation(store, WS, AREA, "lagi", "ani")

    resumed = FakeTime(add_once)
    again = list(
        mapdata.map_events(
            store,
            WS,
            last_event_id=events[-1].id,
            seconds=2,
            interval=1,
            overlap=timedelta(0),
            clock=resumed.clock,
            sleep=resumed.sleep,
        )
    )
    names = [e.name for e in again]
    assert names[0] == "ready"
    assert "presenter" not in names
    assert [e.data["id"] for e in again if e.name == "annotation"] == [later["a"]["id"]]
    assert again[-1].id.endswith("|2")


def test_events_look_back_over_the_overlap_and_send_each_annotation_once(workspace):
    store, _refs = workspace
    just_before = mapdata.add_annotation(store, WS, POINT, "hampir", "ani")
    fake = FakeTime()
    # Starting right after it: a save that committed late is not missed.
    events = list(
        mapdata.map_events(
            store,
            WS,
            since=datetime.fromisoformat(just_before["created_at"]) + timedelta(milliseconds=1),
            seconds=3,
            interval=1,
            clock=fake.clock,
            sleep=fake.sleep,
        )
    )
    assert [e.name for e in events] == ["ready", "annotation"]  # polled 4 times, sent once
    assert events[1].data["id"] == just_before["id"]


def test_events_start_now_and_check_the_workspace(workspace):
    store, _refs = workspace
    mapdata.add_annotation(store, WS, POINT, "lama", "ani")
    fake = FakeTime()
    start = datetime.now(UTC) + timedelta(seconds=10)  # after the overlap window
    stream = mapdata.map_events(
        store, WS, since=start, seconds=1, interval=1, clock=fake.clock, sleep=fake.sleep
    )
    assert [e.name for e in stream] == ["ready"]
    with pytest.raises(NotFoundError):
        next(mapdata.map_events(store, "tidak-ada"))
    with pytest.raises(InputError):
        next(mapdata.map_events(store, WS, since="kemarin"))
    # A cursor that is not ours is ignored: the stream starts now.
    first = next(mapdata.map_events(store, WS, last_event_id="garbage"))
    assert first.name == "ready"
    assert first.id.endswith("|0")


# --- tiles ---------------------------------------------------------------------------------


def test_village_tiles_carry_the_values(workspace, tmp_path):
    tiles = pytest.importorskip("layers.tiles")
    mvt = pytest.importorskip("mapbox_vector_tile")
    store, _refs = workspace
    x, y = tiles.lonlat_to_tile(102.55, -2.0, 11)  # the tile holding all five villages
    assert tiles.lonlat_to_tile(102.5, -2.01, 11) == tiles.lonlat_to_tile(102.6, -1.99, 11)
    tile = mapdata.village_tile(store, WS, "musrenbang", None, 11, x, y, cache_dir=tmp_path / "t")
    decoded = mvt.decode(tile.data)
    features = decoded["villages"]["features"]
    props = {f["properties"]["kode"]: f["properties"] for f in features}
    assert sorted(props) == KODES
    mv = mapdata.map_values(store, WS, "musrenbang")
    for kode, p in props.items():
        assert p["class"] == mv.values.loc[kode, "class"]
        assert p["rank"] == mv.values.loc[kode, "rank"]
        assert p["value"] == pytest.approx(mv.values.loc[kode, "value"])
        assert p["kecamatan"] == "Bangko"
    assert props[KODES[2]]["name"] == "Tiga"
    assert tile.key == mv.key
    assert tile.version == mv.version
    again = mapdata.village_tile(store, WS, "musrenbang", None, 11, x, y, cache_dir=tmp_path / "t")
    assert again == tile
    assert len(mapdata.caches(store).tiles) == 1  # one VillageTiles for the key
    by_indicator = mapdata.village_tile(
        store, WS, "musrenbang", "needs_per_1000__health", 11, x, y, cache_dir=tmp_path / "t"
    )
    decoded = mvt.decode(by_indicator.data)["villages"]["features"]
    classes = {f["properties"]["kode"]: f["properties"]["class"] for f in decoded}
    assert [classes[k] for k in KODES] == [5, 4, 2, 1, 2]
    assert by_indicator.etag != tile.etag
    empty = mapdata.village_tile(store, WS, "musrenbang", None, 12, 0, 0)
    assert empty.data == b""
    with pytest.raises(InputError):
        mapdata.village_tile(store, WS, "musrenbang", None, 23, 0, 0)
    with pytest.raises(InputError):
        mapdata.village_tile(store, WS, "musrenbang", None, 3, 8, 0)


def test_village_detail_lists_the_notes_kept_with_the_village(workspace):
    store, _refs = workspace
    point = {"type": "Point", "coordinates": [102.51, -2.01]}
    mapdata.add_annotation(store, WS, point, "Jalan banjir saat hujan", "ani", kode=KODES[0])
    mapdata.add_annotation(store, WS, point, "Usul lokasi posyandu", "budi", kode=KODES[0])
    mapdata.add_annotation(store, WS, point, "Catatan umum", "cici")
    mine = mapdata.village_detail(store, WS, "musrenbang", KODES[0])["notes"]
    assert [n["note"] for n in mine] == ["Usul lokasi posyandu", "Jalan banjir saat hujan"]
    assert [n["author"] for n in mine] == ["budi", "ani"]
    assert mapdata.village_detail(store, WS, "musrenbang", KODES[1])["notes"] == []
