"""Scenarios: placement and siting runs saved, listed, compared and exported, checked by hand.

The workspace ``kecil`` has six square villages of 0.02 degrees in a row near 102.5 E, 2.0 S
(village i from x0 = 102.50 + 0.02 i to x0 + 0.02, latitude -2.01 to -1.99), codes with a
leading zero (``01.01.01.2001`` ...), two kecamatan (Alfa: villages 1-3, Beta: 4-6; village
6's layer row has no kecamatan code, so it comes from its village code), populations
1,000 / 2,000 / 500 / 4,000 / 2,500 / 1,500 and one puskesmas at the centre of village 1.
The profile ``jarak`` scores only the distance to a puskesmas (min-max), so village i
scores 20 (i - 1): its centre lies (i - 1) x 2.2 km from the puskesmas, equal steps.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from layers.errors import InputError, NotFoundError
from layers.indicators import IndicatorSettings
from layers.profiles import IndicatorRule, ScoringProfile
from layers.report import ValidationReport
from layers.score_run import load_run, run_score, save_profile
from layers.storage import ConflictError, Store, open_store
from layers.targeting import scenario_export
from layers.targeting.scenarios import (
    COLLECTION,
    SUMMARY_KEYS,
    compare_scenarios,
    delete_scenario,
    export_scenario,
    list_scenarios,
    load_scenario,
    placement_table,
    run_scenario,
)

WS = "kecil"
PROFILE = "jarak"
KODE = [
    "01.01.01.2001",
    "01.01.01.2002",
    "01.01.01.2003",
    "01.01.02.2004",
    "01.01.02.2005",
    "01.01.02.2006",
]
NAMES = ["Satu", "Dua", "Tiga", "Empat", "Lima", "Enam"]
POP = np.array([1000.0, 2000.0, 500.0, 4000.0, 2500.0, 1500.0])
KEC = ["01.01.01"] * 3 + ["01.01.02"] * 3
CENTRES = [(102.51 + 0.02 * i, -2.0) for i in range(6)]
#: Scores by hand: equal distance steps, min-max.
HAND_SCORES = np.array([0.0, 20.0, 40.0, 60.0, 80.0, 100.0])
#: Households from an indicator table (village 3 has none).
HOUSEHOLDS = {KODE[0]: 250.0, KODE[1]: 480.0, KODE[3]: 990.0, KODE[4]: 610.0, KODE[5]: 400.0}


def _report(kind: str, name: str, rows: int) -> dict:
    return ValidationReport(kind, name, rows, rows).to_dict()


def build_store(folder: Path, *, population: list[float | None] | None = None) -> Store:
    """The ``kecil`` workspace with villages, a puskesmas, households and profile ``jarak``."""
    store = open_store(f"sqlite:///{folder / 'store.sqlite'}")
    store.init()
    store.create_workspace(WS, "Uji kecil")
    villages = gpd.GeoDataFrame(
        {
            "kode": KODE,
            "name": NAMES,
            "kecamatan_kode": [*KEC[:5], None],
            "kecamatan": ["Alfa"] * 3 + ["Beta"] * 3,
            "population": list(POP) if population is None else population,
        },
        geometry=[box(102.50 + 0.02 * i, -2.01, 102.52 + 0.02 * i, -1.99) for i in range(6)],
        crs="EPSG:4326",
    )
    store.put_dataset(
        WS,
        "villages",
        villages,
        source_name="desa.geojson",
        source_sha256="1" * 64,
        report=_report("villages", "desa.geojson", 6),
    )
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": ["P1"],
            "name": ["Puskesmas Satu"],
            "type": ["puskesmas"],
            "kode": [KODE[0]],
        },
        geometry=[Point(*CENTRES[0])],
        crs="EPSG:4326",
    )
    store.put_dataset(
        WS,
        "facilities",
        facilities,
        source_name="faskes.csv",
        source_sha256="2" * 64,
        report=_report("facilities", "faskes.csv", 1),
    )
    survey = pd.DataFrame({"kode": list(HOUSEHOLDS), "households": list(HOUSEHOLDS.values())})
    store.put_dataset(
        WS,
        "indicators",
        survey,
        name="survei",
        source_name="survei.csv",
        source_sha256="3" * 64,
        report=_report("indicators", "survei.csv", 5),
    )
    profile = ScoringProfile(
        name=PROFILE,
        title="Jarak ke puskesmas",
        rules=(IndicatorRule("dist_m__puskesmas", 1.0, "need", "minmax"),),
    )
    save_profile(store, WS, profile, user="ani")
    run_score(store, WS, PROFILE, settings=IndicatorSettings(as_of=date(2025, 6, 30)))
    return store


def put_raster(store: Store) -> None:
    """A 2 x 12 population raster of 0.01 degree cells lined up with the villages (2 x 2
    cells per village), then a new score run that reads it.

    Each village's people sit in its north-west cell only (the others hold 0): the
    raster's people per village are the villages' populations, and its populated cells'
    centres lie 0.005 degrees west and north of the village centres.
    """
    people = np.zeros((2, 12), dtype="float32")
    people[0, 0::2] = POP
    with MemoryFile() as memory:
        with memory.open(
            driver="GTiff",
            height=2,
            width=12,
            count=1,
            dtype="float32",
            crs="EPSG:4326",
            transform=from_origin(102.50, -1.99, 0.01, 0.01),
            nodata=-1,
        ) as ds:
            ds.write(people, 1)
        data = memory.read()
    store.put_raster(
        WS,
        data,
        source_name="penduduk.tif",
        source_sha256="a" * 64,
        report={"kind": "raster"},
        crs="EPSG:4326",
        bounds=(102.50, -2.01, 102.62, -1.99),
    )
    run_score(store, WS, PROFILE, settings=IndicatorSettings(as_of=date(2025, 6, 30)))


@pytest.fixture
def store(tmp_path):
    store = build_store(tmp_path)
    yield store
    store.close()


def run_scores(store: Store) -> pd.Series:
    """The saved run's scores (read back from its table, not through the scenario code)."""
    return load_run(store, WS, PROFILE)["table_frame"]["score"].reindex(KODE)


def brute_force(benefit, cost, *, budget=None, top_n=None, max_kec=None, exclude=(), pairs=()):
    """The best subset of the six villages by trying every one of the 64."""
    best, best_value = None, -1.0
    for size in range(7):
        for subset in itertools.combinations(range(6), size):
            chosen = set(subset)
            if chosen & set(exclude):
                continue
            if budget is not None and sum(cost[i] for i in chosen) > budget:
                continue
            if top_n is not None and len(chosen) > top_n:
                continue
            if max_kec is not None and any(
                sum(KEC[i] == k for i in chosen) > max_kec for k in set(KEC)
            ):
                continue
            if any(a in chosen and b in chosen for a, b in pairs):
                continue
            value = sum(benefit[i] for i in chosen)
            if value > best_value + 1e-9:
                best, best_value = chosen, value
    return best, best_value


# --- the village table -----------------------------------------------------------------------


def test_placement_table_joins_the_run_with_villages_by_hand(store):
    table = placement_table(store, WS, PROFILE)
    assert table.index.tolist() == KODE  # text, leading zeros kept
    assert table["name"].tolist() == NAMES
    assert table["kecamatan_kode"].tolist() == KEC  # village 6's from its code
    assert table["population"].tolist() == POP.tolist()
    assert table["score"].to_numpy() == pytest.approx(HAND_SCORES, abs=0.01)
    assert table["people_in_need"].to_numpy() == pytest.approx(POP * HAND_SCORES / 100, abs=0.5)
    assert table["households"].reindex(list(HOUSEHOLDS)).tolist() == list(HOUSEHOLDS.values())
    assert np.isnan(table.at[KODE[2], "households"])
    # x/y: the village centre in UTM 48S (a rectangle's inner point lies on its middle line)
    utm = pyproj.Transformer.from_crs(4326, 32748, always_xy=True)
    x, y = utm.transform([c[0] for c in CENTRES], [c[1] for c in CENTRES])
    assert table["x"].to_numpy() == pytest.approx(x, abs=60)
    assert table["y"].to_numpy() == pytest.approx(y, abs=60)
    assert table.attrs["run"] == f"{WS}/score_runs/{PROFILE}@1"


def test_placement_table_without_population_or_households(tmp_path):
    store = build_store(tmp_path, population=[1000.0, None, 500.0, 4000.0, 2500.0, 1500.0])
    try:
        table = placement_table(store, WS, PROFILE)
        assert np.isnan(table.at[KODE[1], "population"])
        assert np.isnan(table.at[KODE[1], "people_in_need"])
        # a placement cannot choose a village without people: it says so
        body = run_scenario(
            store, WS, "semua", kind="placement", profile=PROFILE, settings={"top_n": 6}
        )
        assert KODE[1] not in body["summary"]["villages"]
        assert body["summary"]["people_reached"] == pytest.approx(POP.sum() - 2000.0)
        assert any(n["code"] == "missing_values" for n in body["result"]["notes"])
    finally:
        store.close()


def test_population_comes_from_the_raster_where_the_villages_have_none(tmp_path):
    store = build_store(tmp_path, population=[None, 2200.0, None, None, None, None])
    try:
        put_raster(store)
        table = placement_table(store, WS, PROFILE)
        assert table.attrs["run"] == f"{WS}/score_runs/{PROFILE}@2"
        expected = POP.copy()
        expected[1] = 2200.0  # the layer's own figure wins
        assert table["population"].to_numpy() == pytest.approx(expected, rel=1e-6)
    finally:
        store.close()


# --- placement -------------------------------------------------------------------------------


def test_placement_scenario_is_the_best_subset_and_its_summary_adds_up(store):
    settings = {
        "cost": "per_person:10000",
        "budget": 62_000_000,
        "rules": {"max_per_kecamatan": 2, "exclude": [KODE[4]]},
    }
    body = run_scenario(
        store,
        WS,
        "anggaran-62",
        kind="placement",
        profile=PROFILE,
        settings=settings,
        title="Anggaran 62 juta",
        author="ani",
        note="rapat 1",
    )
    scores = run_scores(store).to_numpy()
    benefit, cost = scores / 100 * POP, POP * 10_000
    best, value = brute_force(benefit, cost, budget=62e6, max_kec=2, exclude=[4])
    assert best == {2, 3, 5}  # Tiga, Empat, Enam: 60 million
    summary = body["summary"]
    assert set(summary) == set(SUMMARY_KEYS)
    assert summary["villages"] == [KODE[i] for i in (3, 5, 2)]  # by benefit
    assert summary["villages_selected"] == 3
    assert summary["people_reached"] == 500 + 4000 + 1500
    assert summary["people_in_need_reached"] == pytest.approx(value, rel=1e-9)
    assert summary["people_in_need_reached"] == pytest.approx(0.4 * 500 + 0.6 * 4000 + 1500, abs=1)
    assert summary["cost"] == 60_000_000
    assert summary["budget"] == 62_000_000
    assert summary["budget_share"] == pytest.approx(60 / 62)
    assert summary["status"] == "optimal"
    assert summary["solver"] == "highs"
    assert summary["new_sites"] is None
    assert summary["by_kecamatan"] == [
        {
            "kecamatan_kode": "01.01.01",
            "kecamatan": "Alfa",
            "selected": 1,
            "people_reached": 500.0,
            "cost": 5_000_000.0,
        },
        {
            "kecamatan_kode": "01.01.02",
            "kecamatan": "Beta",
            "selected": 2,
            "people_reached": 5500.0,
            "cost": 55_000_000.0,
        },
    ]
    assert body["version"] == 1
    assert body["ref"] == f"{WS}/{COLLECTION}/anggaran-62@1"
    assert body["title"] == "Anggaran 62 juta"
    assert body["author"] == "ani"
    assert body["inputs"]["villages"] == f"{WS}/villages@1"
    assert body["inputs"]["score_run"] == f"{WS}/score_runs/{PROFILE}@1"
    assert body["settings"]["rules"] == {"max_per_kecamatan": 2, "exclude": [KODE[4]]}
    assert body["settings"]["time_limit"] == 30.0  # defaults filled in
    saved = store.get_record(WS, COLLECTION, "anggaran-62")
    assert saved.body["summary"] == summary
    assert saved.note == "rapat 1"


def test_spacing_and_count_rules_against_every_subset(store):
    geod = pyproj.Geod(ellps="WGS84")
    pairs = [
        (a, b)
        for a, b in itertools.combinations(range(6), 2)
        if geod.inv(*CENTRES[a], *CENTRES[b])[2] < 3000
    ]
    assert pairs == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]  # neighbours only
    body = run_scenario(
        store,
        WS,
        "jarak-3km",
        kind="placement",
        profile=PROFILE,
        settings={"top_n": "3", "rules": {"min_spacing_m": "3000"}},  # text, as a form sends
    )
    benefit = run_scores(store).to_numpy() / 100 * POP
    best, _ = brute_force(benefit, POP, top_n=3, pairs=pairs)
    assert (
        set(body["summary"]["villages"]) == {KODE[i] for i in best} == {KODE[1], KODE[3], KODE[5]}
    )
    assert body["summary"]["cost"] is None
    assert body["summary"]["budget_share"] is None


def test_codes_without_dots_and_manual_edits(store):
    body = run_scenario(
        store,
        WS,
        "janji",
        kind="placement",
        profile=PROFILE,
        settings={
            "top_n": 2,
            "rules": {"must_include": "0101012001"},  # one text, no dots
            "add": ["01.01.01.2002"],
        },
    )
    assert body["settings"]["rules"]["must_include"] == [KODE[0]]
    # required Satu plus the best other (Empat: 2,400 need-weighted people), then Dua added
    assert body["summary"]["villages"] == [KODE[3], KODE[1], KODE[0]]
    assert body["result"]["edits"]["added"] == [KODE[1]]
    assert body["summary"]["people_reached"] == 4000 + 2000 + 1000


@pytest.mark.parametrize(
    ("kind", "settings", "setting"),
    [
        ("placement", {"top_n": 2, "colour": "red"}, "colour"),
        ("placement", {"budget": "banyak", "cost": 1}, "budget"),
        ("placement", {"top_n": 0}, "top_n"),
        ("placement", {"top_n": 2.5}, "top_n"),
        ("placement", {}, "budget"),
        ("placement", {"budget": 100}, "cost"),
        ("placement", {"top_n": 2, "rules": {"min_spacing_m": -5}}, "rules.min_spacing_m"),
        ("placement", {"top_n": 2, "rules": {"spacing": 5}}, "rules.spacing"),
        ("placement", {"top_n": 2, "rules": {"exclude": 5}}, "rules.exclude"),
        ("placement", {"top_n": 2, "solver": "gurobi"}, "solver"),
        ("placement", {"top_n": 2, "time_limit": 0}, "time_limit"),
        ("siting", {"model": "mclp", "k": 2}, "facility_type"),
        ("siting", {"facility_type": "warung", "k": 2}, "facility_type"),
        ("siting", {"facility_type": "posyandu"}, "k"),
        ("siting", {"facility_type": "posyandu", "k": 1, "model": "best"}, "model"),
        ("siting", {"facility_type": "clinic", "k": 1}, "distance_m"),
        ("siting", {"facility_type": "posyandu", "k": 1, "candidates": "grid:-1"}, "candidates"),
        ("siting", {"facility_type": "posyandu", "k": 1, "candidates": "roads"}, "candidates"),
        ("siting", {"facility_type": "posyandu", "k": 1, "demand": "census"}, "demand"),
        (
            "siting",
            {"facility_type": "posyandu", "k": 1, "weight_by_score": "maybe"},
            "weight_by_score",
        ),
        ("siting", {"facility_type": "posyandu", "k": 1, "engine": "fast"}, "engine"),
        ("siting", {"facility_type": "posyandu", "k": 1, "demand": "raster"}, "demand"),
        ("siting", {"facility_type": "posyandu", "k": 1, "candidates": "grid:10"}, "candidates"),
        ("siting", {"facility_type": "posyandu", "k": 7}, "k"),
        ("sorting", {"top_n": 2}, "kind"),
    ],
)
def test_bad_settings_name_the_setting_and_save_nothing(store, kind, settings, setting):
    with pytest.raises(InputError) as caught:
        run_scenario(store, WS, "salah", kind=kind, profile=PROFILE, settings=settings)
    assert caught.value.params["setting"] == setting
    assert setting.split(".")[-1] in str(caught.value)
    assert list_scenarios(store, WS) == []


@pytest.mark.parametrize("name", ["Besar", "dua kata", "a_b", "-awal", "akhir-", "x" * 65, "", 5])
def test_a_scenario_name_is_a_slug(store, name):
    with pytest.raises(InputError, match="not a scenario name"):
        run_scenario(store, WS, name, kind="placement", profile=PROFILE, settings={"top_n": 1})


def test_the_compare_page_address_is_not_a_scenario_name(store):
    with pytest.raises(InputError, match="scenario pages' addresses") as caught:
        run_scenario(store, WS, "compare", kind="placement", profile=PROFILE, settings={"top_n": 1})
    assert caught.value.params["setting"] == "name"
    assert list_scenarios(store, WS) == []


def test_rules_that_clash_are_refused_and_nothing_is_saved(store):
    with pytest.raises(InputError, match="must_include, exclude"):
        run_scenario(
            store,
            WS,
            "bentrok",
            kind="placement",
            profile=PROFILE,
            settings={"top_n": 2, "rules": {"must_include": [KODE[0]], "exclude": [KODE[0]]}},
        )
    assert list_scenarios(store, WS) == []


def test_unknown_workspace_and_profile(store):
    with pytest.raises(NotFoundError):
        run_scenario(store, "tidak-ada", "a", kind="placement", profile=PROFILE, settings={})
    with pytest.raises(NotFoundError):
        run_scenario(store, WS, "a", kind="placement", profile="tidak_ada", settings={"top_n": 1})


# --- versions, list, load, delete ------------------------------------------------------------


def test_saving_again_makes_a_version_and_an_old_base_is_refused(store):
    first = run_scenario(store, WS, "a", kind="placement", profile=PROFILE, settings={"top_n": 1})
    second = run_scenario(
        store,
        WS,
        "a",
        kind="placement",
        profile=PROFILE,
        settings={"top_n": 2},
        expected_version=1,
    )
    assert (first["version"], second["version"]) == (1, 2)
    with pytest.raises(ConflictError, match="changed meanwhile"):
        run_scenario(
            store,
            WS,
            "a",
            kind="placement",
            profile=PROFILE,
            settings={"top_n": 3},
            expected_version=1,
        )
    with pytest.raises(ConflictError, match="already exists"):
        run_scenario(
            store,
            WS,
            "a",
            kind="placement",
            profile=PROFILE,
            settings={"top_n": 3},
            expected_version=0,
        )
    assert load_scenario(store, WS, "a")["version"] == 2
    assert load_scenario(store, WS, "a", 1)["summary"]["villages"] == [KODE[3]]
    assert load_scenario(store, WS, "a")["summary"]["villages"] == [KODE[3], KODE[4]]
    new = run_scenario(
        store,
        WS,
        "b",
        kind="placement",
        profile=PROFILE,
        settings={"top_n": 1},
        expected_version=0,
    )
    assert new["version"] == 1


def test_list_load_and_delete(store):
    assert list_scenarios(store, WS) == []
    run_scenario(store, WS, "satu", kind="placement", profile=PROFILE, settings={"top_n": 1})
    run_scenario(
        store,
        WS,
        "dua",
        kind="placement",
        profile=PROFILE,
        author="budi",
        settings={"top_n": 2, "cost": 1_000_000, "budget": 4_000_000},
    )
    listed = list_scenarios(store, WS)
    assert [s["name"] for s in listed] == ["dua", "satu"]  # newest first
    dua = listed[0]
    assert dua["kind"] == "placement"
    assert dua["profile"] == PROFILE
    assert dua["version"] == 1
    assert dua["author"] == "budi"
    assert dua["title"] == "dua"
    assert dua["villages_selected"] == 2
    assert dua["people_reached"] == 4000 + 2500
    assert dua["cost"] == 2_000_000
    assert dua["budget_share"] == 0.5
    with pytest.raises(NotFoundError, match="scenarios: dua, satu"):
        load_scenario(store, WS, "tiga")
    with pytest.raises(NotFoundError):
        load_scenario(store, WS, "Bukan Nama")
    with pytest.raises(NotFoundError):
        load_scenario(store, WS, "satu", 2)
    delete_scenario(store, WS, "satu")
    assert [s["name"] for s in list_scenarios(store, WS)] == ["dua"]
    with pytest.raises(NotFoundError):
        load_scenario(store, WS, "satu")
    with pytest.raises(NotFoundError):
        delete_scenario(store, WS, "satu")


# --- compare ---------------------------------------------------------------------------------


def test_compare_side_by_side_with_differences_by_hand(store):
    run_scenario(store, WS, "top-3", kind="placement", profile=PROFILE, settings={"top_n": 3})
    run_scenario(
        store,
        WS,
        "per-kec",
        kind="placement",
        profile=PROFILE,
        settings={"top_n": 3, "rules": {"min_per_kecamatan": 1}},
    )
    run_scenario(
        store,
        WS,
        "tanpa-empat",
        kind="placement",
        profile=PROFILE,
        settings={"top_n": 3, "rules": {"exclude": [KODE[3]]}},
    )
    # By hand, need-weighted people (score / 100 x people): Satu 0, Dua 400, Tiga 200,
    # Empat 2,400, Lima 2,000, Enam 1,500. top-3 = Empat, Lima, Enam; per-kec needs one in
    # Alfa: Dua (400) + the best two of Beta, Empat and Lima; tanpa-empat = Lima, Enam, Dua.
    names = ["top-3", "per-kec", "tanpa-empat"]
    result = compare_scenarios(store, WS, names)
    assert [s["name"] for s in result["scenarios"]] == names
    assert [s["people_reached"] for s in result["scenarios"]] == [8000, 8500, 6000]
    assert [s["villages_selected"] for s in result["scenarios"]] == [3, 3, 3]
    assert result["kecamatan"] == [
        {
            "kecamatan_kode": "01.01.01",
            "kecamatan": "Alfa",
            "selected": {"top-3": 0, "per-kec": 1, "tanpa-empat": 1},
            "people_reached": {"top-3": 0.0, "per-kec": 2000.0, "tanpa-empat": 2000.0},
        },
        {
            "kecamatan_kode": "01.01.02",
            "kecamatan": "Beta",
            "selected": {"top-3": 3, "per-kec": 2, "tanpa-empat": 2},
            "people_reached": {"top-3": 8000.0, "per-kec": 6500.0, "tanpa-empat": 4000.0},
        },
    ]
    assert result["same"] == 1  # Lima is in all three
    assert result["differences"] == [
        {
            "kode": KODE[1],
            "name": "Dua",
            "kecamatan_kode": "01.01.01",
            "kecamatan": "Alfa",
            "in": ["per-kec", "tanpa-empat"],
        },
        {
            "kode": KODE[3],
            "name": "Empat",
            "kecamatan_kode": "01.01.02",
            "kecamatan": "Beta",
            "in": ["top-3", "per-kec"],
        },
        {
            "kode": KODE[5],
            "name": "Enam",
            "kecamatan_kode": "01.01.02",  # from the code: the layer has none
            "kecamatan": "Beta",
            "in": ["top-3", "tanpa-empat"],
        },
    ]


def test_compare_needs_two_known_distinct_names(store):
    run_scenario(store, WS, "a", kind="placement", profile=PROFILE, settings={"top_n": 1})
    with pytest.raises(InputError, match="at least two"):
        compare_scenarios(store, WS, ["a"])
    with pytest.raises(InputError, match="more than once"):
        compare_scenarios(store, WS, ["a", "a"])
    with pytest.raises(NotFoundError, match="'b'"):
        compare_scenarios(store, WS, ["a", "b"])


# --- export ----------------------------------------------------------------------------------


@pytest.fixture
def exported(store):
    run_scenario(
        store,
        WS,
        "anggaran",
        kind="placement",
        profile=PROFILE,
        settings={
            "cost": "per_person:10000",
            "budget": 62_000_000,
            "rules": {"exclude": [KODE[4]]},
        },
        title="Anggaran",
    )
    return store


def test_csv_export_reads_back_with_text_codes(exported, tmp_path):
    path = export_scenario(exported, WS, "anggaran", tmp_path / "desa.csv", "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == list(scenario_export.COLUMNS)
    # by hand: budget 62 million, Lima excluded: Empat + Enam + Tiga (benefit 4,100, 60 M)
    assert [r["kode"] for r in rows] == [KODE[3], KODE[5], KODE[2]]
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    assert [r["name"] for r in rows] == ["Empat", "Enam", "Tiga"]
    assert [r["kecamatan"] for r in rows] == ["Beta", "Beta", "Alfa"]
    assert [float(r["people_reached"]) for r in rows] == [4000, 1500, 500]
    assert [float(r["cost"]) for r in rows] == [40e6, 15e6, 5e6]
    assert [float(r["score"]) for r in rows] == pytest.approx([60, 100, 40], abs=0.01)
    assert [float(r["benefit"]) for r in rows] == pytest.approx([2400, 1500, 200], abs=0.1)
    assert rows[0]["reason"] == "top benefit; Distance to the nearest puskesmas: 6.7 km (+60.0)"
    frame = pd.read_csv(path, dtype={"kode": str}, encoding="utf-8-sig")
    assert frame["kode"].tolist() == [KODE[3], KODE[5], KODE[2]]  # the zero stays
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


def test_xlsx_export_keeps_codes_as_text_and_has_settings(exported, tmp_path):
    path = export_scenario(exported, WS, "anggaran", tmp_path / "desa.xlsx", "xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["villages", "settings"]
    sheet = book["villages"]
    header = [c.value for c in sheet[1]]
    assert header == list(scenario_export.COLUMNS)
    codes = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in codes] == [KODE[3], KODE[5], KODE[2]]
    assert all(c.data_type == "s" and c.number_format == "@" for c in codes)
    people = [row[7].value for row in sheet.iter_rows(min_row=2)]
    assert people == [4000, 1500, 500]
    settings = {row[0]: row[1] for row in book["settings"].iter_rows(min_row=2, values_only=True)}
    assert settings["name"] == "anggaran"
    assert settings["title"] == "Anggaran"
    assert settings["settings.budget"] == 62_000_000
    assert settings["settings.cost"] == "per_person:10000"
    assert settings["settings.rules.exclude"] == KODE[4]
    assert settings["inputs.villages"] == f"{WS}/villages@1"
    assert settings["inputs.score_run"] == f"{WS}/score_runs/{PROFILE}@1"
    assert settings["summary.people_reached"] == 6000


def test_export_is_whole_or_nothing(exported, tmp_path, monkeypatch):
    target = tmp_path / "desa.csv"
    target.write_text("earlier export\n", encoding="utf-8")

    def broken(path, frame):
        path.write_text("half a ta", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(scenario_export, "_write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        export_scenario(exported, WS, "anggaran", target, "csv")
    assert target.read_text(encoding="utf-8") == "earlier export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".desa")] == []
    with pytest.raises(InputError, match="format"):
        export_scenario(exported, WS, "anggaran", target, "pdf")
    with pytest.raises(NotFoundError):
        export_scenario(exported, WS, "tidak-ada", target, "csv")
    assert target.read_text(encoding="utf-8") == "earlier export\n"


# --- the Merangin demo ---------------------------------------------------------------------------


def test_placement_on_the_merangin_demo_is_deterministic(tmp_path):
    """Same selection twice through a saved scenario, and whatever the table's row order."""
    from layers.demo_load import load_demo
    from layers.storage import open_store
    from layers.targeting import ProgramPlacement, Rules
    from layers.targeting.scenarios import placement_table

    store = open_store(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    try:
        store.init()
        load_demo(store)  # bundled in data/boundaries/
        settings = {
            "cost": "per_person:25000",
            "budget": 3_000_000_000,
            "rules": {"max_per_kecamatan": 3, "min_spacing_m": 3000},
        }
        first = run_scenario(
            store, "merangin", "a", kind="placement", profile="health_access", settings=settings
        )
        second = run_scenario(
            store, "merangin", "b", kind="placement", profile="health_access", settings=settings
        )
        assert first["summary"]["villages"] == second["summary"]["villages"]
        assert first["summary"]["villages_selected"] > 5
        assert first["result"]["status"] == "optimal"

        table = placement_table(store, "merangin", "health_access")
        kwargs = {
            "cost": "per_person:25000",
            "budget": 3_000_000_000,
            "rules": Rules(max_per_kecamatan=3, min_spacing_m=3000),
            "rule_costs": False,
        }
        plan = ProgramPlacement(table, **kwargs).solve()
        shuffled = table.sample(frac=1.0, random_state=7)
        again = ProgramPlacement(shuffled, **kwargs).solve()
        assert sorted(plan.selected["kode"]) == sorted(first["summary"]["villages"])
        assert list(again.selected["kode"]) == list(plan.selected["kode"])
        assert again.objective == pytest.approx(plan.objective, rel=1e-9)
    finally:
        store.close()
