"""Score runs: scores checked by hand, saved runs, re-runs on pinned versions, saved profiles.

The workspace is five square villages of 0.02 degrees in a row near 102.5 E, 2.0 S (each
from x0 = 102.50 + 0.02 i to x0 + 0.02, latitude -2.01 to -1.99; centre 102.51 + 0.02 i,
-2.0), two puskesmas, three posyandu and a handful of needs, imported from small files
through :func:`layers.importer.import_into_store` into a SQLite store; some tests add a
population raster whose cells line up with the villages.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from rasterio.transform import from_origin

from layers.errors import InputError, NotFoundError
from layers.importer import import_into_store
from layers.indicators import DEFAULT_STANDARDS_M, IndicatorSettings, VillageIndicators
from layers.profiles import IndicatorRule, ScoringProfile, get_builtin
from layers.score_run import (
    PROFILES,
    RUNS,
    list_profiles,
    load_profile,
    load_run,
    rerun,
    run_score,
    save_profile,
    settings_from_dict,
)
from layers.storage import DATASET_KINDS, ConflictError, Store, open_store

WS = "uji"
AS_OF = date(2025, 6, 30)

#: (code as written in the file, name, population); village i lies at x0 = 102.50 + 0.02 i.
VILLAGES = (
    ("1502012001", "Satu", 1000),
    ("1502012002", "Dua", 2000),
    ("1502012003", "Tiga", 500),
    ("1502012004", "Empat", 4000),
    ("1502012005", "Lima", 2500),
)
#: The codes as stored (the import writes Kemendagri codes with dots).
KODES = [f"15.02.01.200{i}" for i in range(1, 6)]
CENTRES = [(102.51 + 0.02 * i, -2.0) for i in range(5)]
#: Puskesmas: one at the centre of Satu, one inside Lima off its centre.
PUSKESMAS = [(102.51, -2.0), (102.585, -1.995)]

FACILITIES_CSV = (
    "nama,jenis,lintang,bujur\n"
    "Puskesmas Satu,puskesmas,-2.0,102.51\n"
    "Puskesmas Lima,puskesmas,-1.995,102.585\n"
    "Posyandu Mawar,posyandu,-2.0,102.53\n"
    "Posyandu Melati,posyandu,-2.002,102.531\n"
    "Posyandu Anggrek,posyandu,-2.0,102.57\n"
)
# Health needs per village, counted as of 2025-06-30 (severity sums):
#   Satu 4; Dua 2 + 5 = 7; Tiga 1 (the severity-3 need was addressed: "ditangani");
#   Empat 2 (its water need is another category); Lima 5 (the other 5 comes after as_of).
NEEDS_CSV = (
    "kategori,tingkat,tanggal,status,lintang,bujur\n"
    "kesehatan,4,2025-03-01,open,-2.0,102.51\n"
    "kesehatan,2,2025-03-01,open,-2.0,102.53\n"
    "kesehatan,5,2025-04-01,verified,-2.001,102.53\n"
    "kesehatan,3,2025-04-01,ditangani,-2.0,102.55\n"
    "kesehatan,1,2025-04-01,open,-2.0,102.55\n"
    "kesehatan,2,2025-04-01,open,-2.0,102.57\n"
    "kesehatan,5,2025-07-15,open,-2.0,102.59\n"
    "kesehatan,5,2025-05-01,open,-2.0,102.59\n"
    "air bersih,5,2025-05-01,open,-2.0,102.57\n"
)
#: needs_per_1000__health = severity sum * 1000 / population, by hand from NEEDS_CSV.
HEALTH_PER_1000 = [
    4 * 1000 / 1000,
    7 * 1000 / 2000,
    1 * 1000 / 500,
    2 * 1000 / 4000,
    5 * 1000 / 2500,
]


def villages_geojson() -> str:
    features = []
    for i, (kode, nama, penduduk) in enumerate(VILLAGES):
        x0 = 102.50 + 0.02 * i
        ring = [[x0, -2.01], [x0 + 0.02, -2.01], [x0 + 0.02, -1.99], [x0, -1.99], [x0, -2.01]]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "kode": kode,
                    "nama": nama,
                    "kecamatan": "Bangko",
                    "penduduk": penduduk,
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features})


def import_text(store: Store, tmp_path: Path, filename: str, text: str, kind: str, **kw):
    """Write ``text`` to a file and import it; the import must store it without rejections."""
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    outcome = import_into_store(store, WS, path, kind, **kw)
    assert outcome.stored, outcome.report.to_dict()
    assert outcome.report.counts()["rejected"] == 0
    return outcome.version


def build_workspace(tmp_path: Path) -> tuple[Store, dict[str, str]]:
    """A SQLite store in ``tmp_path`` with villages, facilities and needs; and their refs."""
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.init()
    store.create_workspace(WS, "Uji Bangko")
    refs = {}
    refs["villages"] = import_text(store, tmp_path, "desa.geojson", villages_geojson(), "villages")
    refs["facilities"] = import_text(store, tmp_path, "fasilitas.csv", FACILITIES_CSV, "facilities")
    refs["needs"] = import_text(store, tmp_path, "kebutuhan.csv", NEEDS_CSV, "needs")
    return store, {name: v.ref for name, v in refs.items()}


def musrenbang_profile(name: str = "musrenbang") -> ScoringProfile:
    """Two rules: distance to a puskesmas counts twice as much as health needs per 1,000."""
    return ScoringProfile(
        name=name,
        title="Akses kesehatan (musrenbang 2025)",
        rules=(
            IndicatorRule("dist_m__puskesmas", 2.0, "need", "minmax"),
            IndicatorRule("needs_per_1000__health", 1.0, "need", "minmax"),
        ),
    )


def hand_scores(dist: np.ndarray, health: np.ndarray) -> np.ndarray:
    """100 * (2 * minmax(dist) + 1 * minmax(health)) / 3."""
    nd = (dist - dist.min()) / (dist.max() - dist.min())
    nh = (health - health.min()) / (health.max() - health.min())
    return 100 * (2 * nd + 1 * nh) / 3


@pytest.fixture
def workspace(tmp_path):
    store, refs = build_workspace(tmp_path)
    yield store, refs
    store.close()


# --- run_score --------------------------------------------------------------------------


def test_distances_and_needs_of_the_run_match_a_hand_count(workspace):
    store, _refs = workspace
    run = run_score(store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF))
    values = run.indicators.values
    assert values.index.tolist() == KODES
    assert values["population"].tolist() == [p for _, _, p in VILLAGES]
    assert values["needs_per_1000__health"].to_numpy() == pytest.approx(HEALTH_PER_1000, abs=1e-12)
    # Geodesic metres from each village centre to the nearest puskesmas (a second tool: the
    # run measures in UTM 48S, whose scale 2.5 degrees west of its meridian is ~1.0006).
    geod = pyproj.Geod(ellps="WGS84")
    expected = [min(geod.inv(x, y, px, py)[2] for px, py in PUSKESMAS) for x, y in CENTRES]
    assert values["dist_m__puskesmas"].to_numpy() == pytest.approx(expected, rel=1e-3, abs=1e-3)
    assert values["dist_m__puskesmas"].iloc[0] == pytest.approx(0.0, abs=1e-3)
    assert values["fac_count__posyandu"].tolist() == [0, 2, 0, 1, 0]
    assert values["fac_count__puskesmas"].tolist() == [1, 0, 0, 0, 1]


def test_scores_and_ranks_equal_a_hand_computed_weighted_minmax(workspace):
    store, _refs = workspace
    run = run_score(store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF))
    values = run.indicators.values
    expected = hand_scores(
        values["dist_m__puskesmas"].to_numpy(), np.array(HEALTH_PER_1000, dtype=float)
    )
    scores = run.score.scores
    assert scores.index.tolist() == KODES
    assert scores["score"].to_numpy() == pytest.approx(expected, abs=1e-9)
    # The same from geodesic distances: min-max cancels the projection's scale factor.
    geod = pyproj.Geod(ellps="WGS84")
    geodesic = np.array(
        [min(geod.inv(x, y, px, py)[2] for px, py in PUSKESMAS) for x, y in CENTRES]
    )
    assert scores["score"].to_numpy() == pytest.approx(
        hand_scores(geodesic, np.array(HEALTH_PER_1000)), abs=0.05
    )
    # Tiga is farthest (score 2*1 + 1.5/3.5, /3), Satu has the most needs per 1,000 (1/3).
    assert scores.loc[KODES[2], "score"] == pytest.approx(100 * (2 + 1.5 / 3.5) / 3, abs=1e-9)
    assert scores.loc[KODES[0], "score"] == pytest.approx(100 / 3, abs=1e-6)
    assert scores["rank"].tolist() == [3, 2, 1, 4, 5]
    assert scores["need_class"].tolist() == [3, 4, 5, 2, 1]  # 5 quantile classes of 5 scores
    top = run.top(3)
    assert top["kode"].tolist() == [KODES[2], KODES[1], KODES[0]]
    assert top["name"].tolist() == ["Tiga", "Dua", "Satu"]
    assert top["rank"].tolist() == [1, 2, 3]
    # Tiga's main reason is its distance: 2/3 of 100 points; Satu's are its needs (1/3).
    first = top["reasons"].iloc[0][0]
    assert first[0] == "dist_m__puskesmas"
    assert first[2] == pytest.approx(200 / 3, abs=1e-9)
    assert top["reasons"].iloc[2][0][0] == "needs_per_1000__health"
    assert top["reasons"].iloc[2][0][1] == pytest.approx(4.0)


def test_a_run_is_saved_with_its_inputs_settings_and_table(workspace):
    store, refs = workspace
    settings = IndicatorSettings(as_of=AS_OF)
    first = run_score(store, WS, musrenbang_profile(), settings=settings, user="ani", note="uji")
    assert first.ref == f"{WS}/{RUNS}/musrenbang@1"
    assert first.record.version == 1
    assert first.record.created_by == "ani"
    assert first.table.ref == f"{WS}/score-musrenbang@1"
    assert first.table.kind == "derived"
    assert first.inputs == refs
    body = store.get_record(WS, RUNS, "musrenbang").body
    assert body["inputs"] == refs
    assert body["settings"]["as_of"] == "2025-06-30"
    assert body["settings"]["standards_m"] == DEFAULT_STANDARDS_M
    assert body["table"] == first.table.ref
    assert body["profile_ref"] == "custom:musrenbang"
    assert ScoringProfile.from_dict(body["profile"]) == musrenbang_profile()
    assert body["summary"]["villages"] == 5
    assert body["summary"]["scored"] == 5
    assert body["summary"]["classes"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    expected_mean = float(first.score.scores["score"].mean())
    assert body["summary"]["mean_score"] == pytest.approx(expected_mean, abs=1e-12)

    second = run_score(store, WS, musrenbang_profile(), settings=settings)
    assert second.record.version == 2
    assert second.table.version == 2
    saved = load_run(store, WS, "musrenbang", 1)
    assert saved["record"].version == 1
    frame = saved["table_frame"]
    assert frame.index.tolist() == KODES
    assert frame["score"].to_numpy() == pytest.approx(first.score.scores["score"].to_numpy())
    assert frame["rank"].tolist() == [3, 2, 1, 4, 5]
    assert frame["needs_per_1000__health"].to_numpy() == pytest.approx(HEALTH_PER_1000)
    assert load_run(store, WS, "musrenbang")["record"].version == 2


def test_the_reference_date_defaults_to_today_and_is_recorded(workspace):
    store, _refs = workspace
    before = date.today()
    run = run_score(store, WS, musrenbang_profile())
    after = date.today()
    assert before <= run.settings.as_of <= after
    recorded = date.fromisoformat(
        store.get_record(WS, RUNS, "musrenbang").body["settings"]["as_of"]
    )
    assert recorded == run.settings.as_of
    # As of today the need of 2025-07-15 counts too: Lima has 5 + 5 per 2,500 people.
    assert run.indicators.values.loc[KODES[4], "needs_per_1000__health"] == pytest.approx(4.0)


def test_a_named_saved_profile_is_used_and_cited(workspace):
    store, _refs = workspace
    save_profile(store, WS, musrenbang_profile(), user="ani", note="musrenbang kecamatan")
    run = run_score(store, WS, "musrenbang", settings=IndicatorSettings(as_of=AS_OF))
    assert run.profile_ref == f"{WS}/{PROFILES}/musrenbang@1"
    assert run.score.scores["rank"].tolist() == [3, 2, 1, 4, 5]
    assert store.get_record(WS, RUNS, "musrenbang").body["profile_ref"] == run.profile_ref


def test_no_save_stores_nothing(workspace):
    store, _refs = workspace
    before = store.list_datasets(WS, all_versions=True, kinds=DATASET_KINDS)
    run = run_score(
        store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF), save=False
    )
    assert run.record is None
    assert run.ref is None
    assert run.table is None
    assert store.list_records(WS) == []
    assert store.list_datasets(WS, all_versions=True, kinds=DATASET_KINDS) == before


# --- rerun ------------------------------------------------------------------------------


def test_rerun_reads_the_pinned_versions_and_finds_the_same_scores(workspace, tmp_path):
    store, refs = workspace
    settings = IndicatorSettings(as_of=AS_OF)
    first = run_score(store, WS, musrenbang_profile(), settings=settings)
    check = rerun(store, WS, "musrenbang")
    assert check.same
    assert check.max_score_difference == 0.0
    assert check.rank_changes == 0
    assert check.run.inputs == refs

    # A new version of the needs: two severity-5 health needs in Empat (now 12 per 4,000).
    newer = (
        NEEDS_CSV
        + "kesehatan,5,2025-05-02,open,-2.0,102.57\nkesehatan,5,2025-05-03,open,-2.0,102.57\n"
    )
    version = import_text(store, tmp_path, "kebutuhan_v2.csv", newer, "needs")
    assert version.ref == f"{WS}/needs@2"

    again = rerun(store, WS, "musrenbang", 1)
    assert again.same
    assert again.max_score_difference == 0.0
    assert again.run.inputs["needs"] == f"{WS}/needs@1"
    assert again.run.indicators.values["needs_per_1000__health"].to_numpy() == pytest.approx(
        HEALTH_PER_1000
    )

    fresh = run_score(store, WS, musrenbang_profile(), settings=settings)
    assert fresh.inputs["needs"] == f"{WS}/needs@2"
    health = np.array(HEALTH_PER_1000)
    health[3] = 12 * 1000 / 4000
    assert fresh.indicators.values["needs_per_1000__health"].to_numpy() == pytest.approx(health)
    expected = hand_scores(fresh.indicators.values["dist_m__puskesmas"].to_numpy(), health)
    assert fresh.score.scores["score"].to_numpy() == pytest.approx(expected, abs=1e-9)
    difference = np.abs(fresh.score.scores["score"] - first.score.scores["score"]).max()
    assert difference > 1.0
    # The latest run (run 2, on needs@2) re-runs the same too.
    latest = rerun(store, WS, "musrenbang")
    assert latest.same
    assert latest.run.inputs["needs"] == f"{WS}/needs@2"


# --- profiles ---------------------------------------------------------------------------


def test_a_saved_profile_hides_the_builtin_one_and_keeps_versions(workspace):
    store, _refs = workspace
    builtin, ref = load_profile(store, WS, "health_access")
    assert ref == "builtin:health_access"
    assert builtin == get_builtin("health_access")

    agreed = get_builtin("health_access").with_weights({"dist_m__puskesmas": 4.0})
    first = save_profile(store, WS, agreed, user="ani", note="musrenbang Bangko 2025")
    assert first.ref == f"{WS}/{PROFILES}/health_access@1"
    loaded, ref = load_profile(store, WS, "health_access")
    assert ref == f"{WS}/{PROFILES}/health_access@1"
    assert loaded == agreed
    assert loaded != builtin

    entries = {e.name: e for e in list_profiles(store, WS)}
    assert sorted(entries) == ["education", "health_access", "water_sanitation"]
    assert entries["health_access"].source == "saved"
    assert entries["health_access"].version == 1
    assert entries["health_access"].created_by == "ani"
    assert entries["health_access"].note == "musrenbang Bangko 2025"
    assert entries["education"].source == "builtin"
    assert [e.source for e in list_profiles(store, WS)] == ["saved", "builtin", "builtin"]

    second = save_profile(store, WS, builtin, user="budi", expected_version=1)
    assert second.version == 2
    assert load_profile(store, WS, "health_access")[0] == builtin
    old, ref = load_profile(store, WS, "health_access", 1)
    assert old == agreed
    assert ref == f"{WS}/{PROFILES}/health_access@1"
    run = run_score(store, WS, "health_access", profile_version=1, save=False)
    assert run.profile == agreed


def test_a_stale_save_is_refused_naming_who_saved_meanwhile(workspace):
    store, _refs = workspace
    save_profile(store, WS, musrenbang_profile(), user="ani")
    heavier = musrenbang_profile().with_weights({"needs_per_1000__health": 3.0})
    save_profile(store, WS, heavier, user="budi", note="rapat desa", expected_version=1)
    lighter = musrenbang_profile().with_weights({"needs_per_1000__health": 0.5})
    with pytest.raises(ConflictError, match="budi") as caught:
        save_profile(store, WS, lighter, user="ani", expected_version=1)
    assert caught.value.latest.version == 2
    assert "version 1" in str(caught.value)
    # Nothing was written: the latest is still budi's.
    assert store.get_record(WS, PROFILES, "musrenbang").version == 2
    assert load_profile(store, WS, "musrenbang")[0] == heavier


def test_an_unknown_profile_lists_the_names(workspace):
    store, _refs = workspace
    save_profile(store, WS, musrenbang_profile())
    with pytest.raises(NotFoundError, match="'puskesmas_jauh'") as caught:
        load_profile(store, WS, "puskesmas_jauh")
    message = str(caught.value)
    for name in ("education", "health_access", "musrenbang", "water_sanitation"):
        assert name in message
    with pytest.raises(NotFoundError, match="health_access"):
        run_score(store, WS, "puskesmas_jauh")


def test_a_profile_needing_an_indicator_the_data_lacks_names_it(workspace):
    store, _refs = workspace
    profile = ScoringProfile(
        name="rumah_sakit",
        title="Jarak ke rumah sakit",
        rules=(
            IndicatorRule("dist_m__hospital", 1.0),
            IndicatorRule("needs_per_1000__health", 1.0),
        ),
    )
    with pytest.raises(InputError, match="dist_m__hospital") as caught:
        run_score(store, WS, profile, settings=IndicatorSettings(as_of=AS_OF))
    assert "needs_per_1000__health" not in caught.value.params["missing"]
    assert store.list_records(WS) == []
    assert store.list_datasets(WS, kinds="derived") == []


def test_save_profile_refuses_what_is_not_a_profile(workspace):
    store, _refs = workspace
    with pytest.raises(ValueError, match="ScoringProfile"):
        save_profile(store, WS, musrenbang_profile().to_dict())
    with pytest.raises(NotFoundError, match="nope"):
        save_profile(store, "nope", musrenbang_profile())


# --- settings ---------------------------------------------------------------------------


def test_settings_survive_a_round_trip_through_json():
    settings = IndicatorSettings(
        standards_m={**DEFAULT_STANDARDS_M, "puskesmas": 3000.0},
        half_life_days=90,
        as_of=date(2025, 6, 30),
        types=("puskesmas", "sd"),
        crs="EPSG:32748",
        include_addressed=True,
        distance_columns=("r502ck3",),
    )
    data = json.loads(json.dumps(settings.to_dict()))
    back = settings_from_dict(data)
    assert back == settings
    assert back.as_of == date(2025, 6, 30)
    assert back.types == ("puskesmas", "sd")
    assert back.standards_m["puskesmas"] == 3000.0
    assert settings_from_dict(IndicatorSettings().to_dict()) == IndicatorSettings()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"as_of": "2025-13-01"}, "as_of must be a date like 2024-05-31, not '2025-13-01'"),
        ({"as_of": "30/06/2025"}, "not '30/06/2025'"),
        ({"as_of": "2025-06-30", "tanggal": 1}, "unknown indicator settings: tanggal"),
        (["as_of"], "must be a mapping, not list"),
        ({"half_life_days": -5}, "half-life"),
        ({"standards_m": {"puskesmas": 0}}, "puskesmas"),
    ],
)
def test_bad_settings_are_input_errors(data, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        settings_from_dict(data)


# --- several layers ----------------------------------------------------------------------


def test_every_facilities_and_needs_layer_counts(workspace, tmp_path):
    store, refs = workspace
    schools = (
        "nama,jenis,lintang,bujur\n"
        "SD Negeri 1,sd,-2.0,102.55\n"
        "SD Negeri 2,sd,-2.003,102.551\n"
        "Puskesmas Tiga,puskesmas,-2.0,102.55\n"
    )
    extra = import_text(store, tmp_path, "sekolah.csv", schools, "facilities", name="sekolah")
    # Needs from a musrenbang, by village code only (no coordinates).
    musrenbang = (
        "kode_desa,tanggal,bidang,urgensi\n"
        "15.02.01.2004,2025-05-01,kesehatan,3\n"
        "15.02.01.2001,2025-05-01,jalan,4\n"
        "15.02.01.2001,2025-05-02,jembatan,2\n"
    )
    more = import_text(
        store, tmp_path, "musrenbang.csv", musrenbang, "needs", name="needs_musrenbang"
    )
    run = run_score(store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF))
    assert run.inputs == {**refs, "sekolah": extra.ref, "needs_musrenbang": more.ref}
    values = run.indicators.values
    assert values["fac_count__puskesmas"].tolist() == [1, 0, 1, 0, 1]
    assert values["fac_count__sd"].tolist() == [0, 0, 2, 0, 0]
    assert values["fac_count__posyandu"].tolist() == [0, 2, 0, 1, 0]
    # Tiga now has a puskesmas at its centre.
    assert values.loc[KODES[2], "dist_m__puskesmas"] == pytest.approx(0.0, abs=1e-3)
    assert values["needs__health"].tolist() == [1, 2, 1, 2, 1]
    assert values["needs__infrastructure"].tolist() == [2, 0, 0, 0, 0]
    assert values["needs_weighted__infrastructure"].tolist() == [6, 0, 0, 0, 0]
    health = list(HEALTH_PER_1000)
    health[3] = (2 + 3) * 1000 / 4000
    assert values["needs_per_1000__health"].to_numpy() == pytest.approx(health)
    expected = hand_scores(values["dist_m__puskesmas"].to_numpy(), np.array(health))
    assert run.score.scores["score"].to_numpy() == pytest.approx(expected, abs=1e-9)
    # A re-run reads both layers of each kind again.
    check = rerun(store, WS, "musrenbang")
    assert check.same
    assert check.run.indicators.values["needs__infrastructure"].tolist() == [2, 0, 0, 0, 0]


# --- population raster -------------------------------------------------------------------


def write_raster(tmp_path: Path) -> Path:
    """A 10 x 2 raster of 0.01 degree cells whose edges are the villages' edges.

    Cell (row r, column c) holds 10 * (10 r + c + 1) people, so village i (columns 2i and
    2i + 1 of both rows) has 10 * ((2i + 1) + (2i + 2) + (2i + 11) + (2i + 12)) = 80 i + 260.
    """
    path = tmp_path / "penduduk.tif"
    people = np.arange(1, 21, dtype="float32").reshape(2, 10) * 10
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=2,
        width=10,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(102.50, -1.99, 0.01, 0.01),
        nodata=-1,
    ) as ds:
        ds.write(people, 1)
    return path


def put_raster(store: Store, tmp_path: Path) -> str:
    """Store the raster as is, without the importer (which also prepares the zonal result)."""
    version = store.put_raster(
        WS,
        write_raster(tmp_path).read_bytes(),
        source_name="penduduk.tif",
        source_sha256="a" * 64,
        report={"kind": "raster"},
        crs="EPSG:4326",
        bounds=(102.50, -2.01, 102.60, -1.99),
    )
    return version.ref


RASTER_PEOPLE = [260.0, 340.0, 420.0, 500.0, 580.0]


def zonal_tables(store: Store) -> dict[str, int]:
    """Name and latest version of the kept zonal tables of the workspace."""
    derived = store.list_datasets(WS, kinds="derived")
    return {d.name: d.version for d in derived if d.name.startswith("zonal-")}


def check_raster_run(store: Store, run) -> None:
    """The raster's people by hand, rates over them, values as computed from the layers."""
    values = run.indicators.values
    assert values["population_raster"].to_numpy() == pytest.approx(RASTER_PEOPLE, rel=1e-9)
    # Every village lies wholly on the raster, so rates use the raster's people.
    per_1000 = np.array([4, 7, 1, 2, 5]) * 1000 / np.array(RASTER_PEOPLE)
    assert values["needs_per_1000__health"].to_numpy() == pytest.approx(per_1000, rel=1e-9)
    direct = VillageIndicators(
        store.read_dataset(WS, "villages"),
        store.read_dataset(WS, "facilities"),
        store.read_dataset(WS, "needs"),
        population=store.read_raster(WS, "population"),
        settings=run.settings,
    ).compute()
    pd.testing.assert_frame_equal(values, direct.values, rtol=1e-9)


def test_a_population_raster_is_read_and_its_zonal_result_reused(workspace, tmp_path):
    store, refs = workspace
    outcome = import_into_store(store, WS, write_raster(tmp_path), "raster")
    assert outcome.stored
    kept = zonal_tables(store)  # the import prepared it
    assert sorted(kept.values()) == [1, 1]
    settings = IndicatorSettings(as_of=AS_OF)
    first = run_score(store, WS, musrenbang_profile(), settings=settings)
    assert first.inputs == {**refs, "population": outcome.version.ref}
    check_raster_run(store, first)
    second = run_score(store, WS, musrenbang_profile(), settings=settings)
    pd.testing.assert_frame_equal(second.indicators.values, first.indicators.values)
    assert zonal_tables(store) == kept
    assert rerun(store, WS, "musrenbang").same


def test_a_run_keeps_the_zonal_result_when_nothing_prepared_it(workspace, tmp_path):
    store, refs = workspace
    raster = put_raster(store, tmp_path)
    assert zonal_tables(store) == {}
    settings = IndicatorSettings(as_of=AS_OF)
    first = run_score(store, WS, musrenbang_profile(), settings=settings)
    assert first.inputs == {**refs, "population": raster}
    check_raster_run(store, first)
    kept = zonal_tables(store)
    assert sorted(kept.values()) == [1, 1]
    second = run_score(store, WS, musrenbang_profile(), settings=settings)
    pd.testing.assert_frame_equal(second.indicators.values, first.indicators.values)
    assert zonal_tables(store) == kept  # read back, not computed and kept again


def test_no_save_keeps_no_zonal_tables_either(workspace, tmp_path):
    store, _refs = workspace
    put_raster(store, tmp_path)
    run = run_score(
        store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF), save=False
    )
    assert run.indicators.values["population_raster"].to_numpy() == pytest.approx(RASTER_PEOPLE)
    assert store.list_datasets(WS, kinds="derived") == []


def test_points_outside_the_old_villages_are_placed_in_the_new_ones(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.init()
    store.create_workspace(WS)
    try:
        four = json.loads(villages_geojson())
        four["features"] = four["features"][:4]  # without Lima
        import_text(store, tmp_path, "desa_4.geojson", json.dumps(four), "villages")
        import_text(store, tmp_path, "fasilitas.csv", FACILITIES_CSV, "facilities")
        needs = import_text(store, tmp_path, "kebutuhan.csv", NEEDS_CSV, "needs")
        stored = store.read_dataset(WS, needs.name)
        assert int(stored["kode"].isna().sum()) == 2  # Lima's two needs fell outside
        import_text(store, tmp_path, "desa_5.geojson", villages_geojson(), "villages")
        run = run_score(
            store, WS, musrenbang_profile(), settings=IndicatorSettings(as_of=AS_OF), save=False
        )
        values = run.indicators.values
        assert values.index.tolist() == KODES
        # Lima's needs are placed by their points now (one is after as_of), and its puskesmas.
        assert values["needs__health"].tolist() == [1, 2, 1, 1, 1]
        assert values["needs_per_1000__health"].to_numpy() == pytest.approx(HEALTH_PER_1000)
        assert values["fac_count__puskesmas"].tolist() == [1, 0, 0, 0, 1]
        assert run.indicators.method["needs"]["placed"] == 2
    finally:
        store.close()


# --- no villages -------------------------------------------------------------------------


def test_a_workspace_without_villages_is_an_input_error(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.init()
    store.create_workspace("kosong")
    try:
        with pytest.raises(
            InputError, match="workspace 'kosong' has no villages layer; import villages first"
        ):
            run_score(store, "kosong", "health_access")
        path = tmp_path / "kebutuhan.csv"
        path.write_text("kode_desa,tanggal,bidang,urgensi\n15.02.01.2001,2025-05-01,gizi,3\n")
        assert import_into_store(store, "kosong", path, "needs").stored
        with pytest.raises(InputError, match="has no villages layer"):
            run_score(store, "kosong", "health_access")
        assert store.list_records("kosong") == []
        with pytest.raises(NotFoundError, match="'tidak_ada'"):
            run_score(store, "tidak_ada", "health_access")
    finally:
        store.close()


def test_an_indicator_equal_everywhere_is_never_given_as_a_reason(tmp_path):
    store, _refs = build_workspace(tmp_path)
    profile = musrenbang_profile().copy(
        name="with_constant",
        rules=(*musrenbang_profile().rules, IndicatorRule("population_constant", weight=1)),
    )
    run = run_score(store, WS, "health_access", settings=IndicatorSettings(as_of=AS_OF), save=False)
    values = run.indicators.values.assign(population_constant=7.0)
    from layers.scoring import Score

    run.score = Score(values, profile).run()
    assert any(n.code == "rule_constant" for n in run.score.notes)
    best = run.top(5, reasons=3)
    given = {indicator for reasons in best["reasons"] for indicator, _raw, _pts in reasons}
    assert "population_constant" not in given
    assert given  # the other indicators still explain the ranks
    store.close()
