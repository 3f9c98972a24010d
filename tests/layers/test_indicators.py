"""Village indicators checked against values worked out by hand on four villages near Jambi.

The villages are 0.05 degree squares (one a two-part MultiPolygon) around 102.0-102.16 E,
1.65-1.75 S, in UTM zone 48 S (EPSG:32748), whose scale error there is under 0.1 %.
Distances are checked against geodesic distances on the WGS 84 ellipsoid (pyproj.Geod)
from the same inner point (shapely ``point_on_surface``) with a 0.3 % tolerance. Needs
ages are counted in days by hand (as_of 2025-06-30).
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from layers.codes import CodeBridge
from layers.demo import CODES_DIR, demo_files
from layers.errors import InputError
from layers.indicators import (
    DEFAULT_STANDARDS_M,
    IndicatorSettings,
    VillageIndicators,
    podes_distance_columns,
)
from layers.validate import import_layer

GEOD = pyproj.Geod(ellps="WGS84")
DIST_RTOL = 3e-3
V1, V2, V3, V4 = "15.04.01.2001", "15.04.01.2002", "15.04.01.2003", "15.04.01.2004"
AS_OF = date(2025, 6, 30)


@pytest.fixture
def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "kode": [V1, V2, V3, V4],
            "name": ["Satu", "Dua", "Tiga", "Empat"],
            "population": [2000.0, 500.0, np.nan, 0.0],
        },
        geometry=[
            shapely.box(102.00, -1.70, 102.05, -1.65),
            shapely.box(102.05, -1.70, 102.10, -1.65),
            shapely.box(102.00, -1.75, 102.05, -1.70),
            shapely.MultiPolygon(
                [
                    shapely.box(102.10, -1.70, 102.12, -1.65),
                    shapely.box(102.14, -1.70, 102.16, -1.65),
                ]
            ),
        ],
        crs="EPSG:4326",
    )


@pytest.fixture
def facilities() -> gpd.GeoDataFrame:
    rows = [
        ("F1", "puskesmas", V1, (102.02, -1.67)),
        ("F2", "posyandu", V2, (102.07, -1.66)),
        ("F3", "posyandu", None, (102.08, -1.69)),  # no code: placed, in V2
        ("F4", "posyandu", V3, (102.03, -1.72)),
        ("F5", "sd", None, (102.50, -1.50)),  # outside every village
        ("F6", "puskesmas", "15.04.01.9999", (102.30, -1.90)),  # code of no village
    ]
    return gpd.GeoDataFrame(
        {
            "facility_id": [r[0] for r in rows],
            "type": [r[1] for r in rows],
            "kode": pd.Series([r[2] for r in rows], dtype="str"),
        },
        geometry=[shapely.Point(*r[3]) for r in rows],
        crs="EPSG:4326",
    )


@pytest.fixture
def needs() -> gpd.GeoDataFrame:
    rows = [
        # need, category, severity, date, status, kode, point; age in days before AS_OF
        ("N1", "water", 3, "2025-01-01", "open", V1, None),  # 180
        ("N2", "water", 5, "2024-07-01", "verified", V1, (102.01, -1.66)),  # 364
        ("N3", "health", 2, "2025-06-01", "addressed", V1, None),  # 29
        ("N4", "health", 4, "2025-12-01", "open", V1, None),  # after AS_OF
        ("N5", "sanitation", 1, "2025-06-30", None, None, (102.07, -1.67)),  # 0, placed in V2
        ("N6", "education", 2, "2023-06-30", "in_progress", V3, None),  # 731
        ("N7", "other", 3, "2025-03-01", "open", "15.04.01.9999", None),  # code of no village
        ("N8", "economy", 4, "2025-03-01", "open", None, None),  # nowhere
        ("N9", "water", 2, "2025-05-01", "closed", V2, None),  # 60
    ]
    return gpd.GeoDataFrame(
        {
            "need_id": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "severity": pd.array([r[2] for r in rows], dtype="Int64"),
            "reported_date": pd.to_datetime([r[3] for r in rows]),
            "status": pd.Series([r[4] for r in rows], dtype="str"),
            "kode": pd.Series([r[5] for r in rows], dtype="str"),
        },
        geometry=[None if r[6] is None else shapely.Point(*r[6]) for r in rows],
        crs="EPSG:4326",
    )


def decay(severity: float, age_days: int, half_life: float = 365.0) -> float:
    return severity * 0.5 ** (age_days / half_life)


def geodesic_nearest(lon: float, lat: float, points: list[tuple[float, float]]) -> float:
    return min(GEOD.inv(lon, lat, x, y)[2] for x, y in points)


def inner_points(villages: gpd.GeoDataFrame) -> list[tuple[float, float]]:
    return [(p.x, p.y) for p in (shapely.point_on_surface(g) for g in villages.geometry)]


def test_facility_counts_per_1000_and_placement(villages, facilities):
    result = VillageIndicators(villages, facilities).compute()
    v = result.values
    assert v.index.name == "kode"
    assert list(v.index) == [V1, V2, V3, V4]
    assert pd.api.types.is_string_dtype(v.index)
    assert (v.dtypes == "float64").all()
    np.testing.assert_array_equal(v["fac_count__puskesmas"], [1, 0, 0, 0])
    np.testing.assert_array_equal(v["fac_count__posyandu"], [0, 2, 1, 0])
    np.testing.assert_array_equal(v["fac_count__sd"], [0, 0, 0, 0])
    # 1 per 2,000 people; 2 per 500; no population (NaN) and zero population give NaN.
    np.testing.assert_allclose(v["fac_per_1000__puskesmas"], [0.5, 0.0, np.nan, np.nan])
    np.testing.assert_allclose(v["fac_per_1000__posyandu"], [0.0, 4.0, np.nan, np.nan])
    assert not np.isinf(v.to_numpy()).any()
    assert "fac_count__hospital" not in v  # only the types present by default
    fac = result.method["facilities"]
    assert fac["by_code"] == 3
    assert fac["placed"] == 1
    assert fac["unplaced"] == 1
    assert fac["unknown_code"] == 1
    assert fac["unknown_code_examples"] == ["15.04.01.9999"]
    assert fac["types"] == ["puskesmas", "posyandu", "sd"]
    assert result.crs.to_epsg() == 32748


def test_distances_match_geodesic_distances_and_share_beyond_is_zero_or_one(villages, facilities):
    standards = {"puskesmas": 5000.0, "posyandu": 2000.0}
    settings = IndicatorSettings(standards_m=standards)
    result = VillageIndicators(villages, facilities, settings=settings).compute()
    v = result.values
    located = {
        t: [
            (p.x, p.y)
            for p, k in zip(facilities.geometry, facilities["type"], strict=True)
            if k == t
        ]
        for t in ("puskesmas", "posyandu", "sd")
    }
    for t, points in located.items():
        expected = [geodesic_nearest(x, y, points) for x, y in inner_points(villages)]
        np.testing.assert_allclose(v[f"dist_m__{t}"], expected, rtol=DIST_RTOL)
        if t in standards:
            # Far enough from the standard that the 0.1 % projection error cannot flip it.
            assert all(abs(d / standards[t] - 1) > 0.01 for d in expected)
            share = [1.0 if d > standards[t] else 0.0 for d in expected]
            np.testing.assert_array_equal(v[f"share_beyond__{t}"], share)
    # The unplaced school and the puskesmas with an unknown code still count for distance.
    assert v["dist_m__sd"].iloc[0] == pytest.approx(
        geodesic_nearest(*inner_points(villages)[0], [(102.5, -1.5)]), rel=DIST_RTOL
    )
    assert "share_beyond__sd" not in v
    assert result.method["share_beyond"]["no_standard"] == ["sd"]
    assert result.method["distance"]["villages"] == {"representative_point": 4}


def test_distance_types_given_but_absent_are_unknown(villages, facilities):
    settings = IndicatorSettings(types=("hospital", "puskesmas"))
    result = VillageIndicators(villages, facilities, settings=settings).compute()
    v = result.values
    assert [c for c in v if c.startswith("dist_m__")] == ["dist_m__hospital", "dist_m__puskesmas"]
    assert v["dist_m__hospital"].isna().all()
    assert v["share_beyond__hospital"].isna().all()
    np.testing.assert_array_equal(v["fac_count__hospital"], [0, 0, 0, 0])
    assert "fac_count__posyandu" not in v
    notes = result.method["notes"]
    assert {"template": notes[0]["template"], "params": {"type": "hospital"}} == notes[0]


def test_needs_counts_weights_decay_and_status(villages, needs):
    settings = IndicatorSettings(as_of=AS_OF, half_life_days=365)
    result = VillageIndicators(villages, needs=needs, settings=settings).compute()
    v = result.values
    water_v1 = decay(3, 180) + decay(5, 364)
    np.testing.assert_array_equal(v["needs__water"], [2, 0, 0, 0])  # N9 is closed
    np.testing.assert_array_equal(v["needs__health"], [0, 0, 0, 0])  # N3 addressed, N4 later
    np.testing.assert_array_equal(v["needs__sanitation"], [0, 1, 0, 0])
    np.testing.assert_array_equal(v["needs__education"], [0, 0, 1, 0])
    np.testing.assert_array_equal(v["needs__other"], [0, 0, 0, 0])
    np.testing.assert_allclose(v["needs_weighted__water"], [water_v1, 0, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(v["needs_weighted__sanitation"], [0, 1.0, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(v["needs_weighted__education"], [0, 0, decay(2, 731), 0])
    np.testing.assert_allclose(
        v["needs_weighted__all"], [water_v1, 1.0, decay(2, 731), 0], rtol=1e-12
    )
    # Per 1,000 people: V1 has 2,000, V2 500; V3 has no population and V4 none.
    np.testing.assert_allclose(v["needs_per_1000__water"], [water_v1 / 2, 0, np.nan, np.nan])
    np.testing.assert_allclose(v["needs_per_1000__all"], [water_v1 / 2, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(v["needs_open"], [2, 1, 1, 0])  # N5 has no status: open
    np.testing.assert_array_equal(v["needs_addressed"], [1, 1, 0, 0])
    m = result.method["needs"]
    assert (m["after_as_of"], m["unknown_code"], m["unplaced"], m["placed"]) == (1, 1, 1, 1)
    assert (m["by_code"], m["status_missing"], m["addressed_left_out"]) == (6, 1, 2)
    assert result.method["as_of"] == "2025-06-30"
    assert any(n["params"].get("count") == 1 for n in result.method["notes"])


def test_needs_without_decay_and_with_addressed_ones(villages, needs):
    plain = VillageIndicators(
        villages, needs=needs, settings=IndicatorSettings(as_of=AS_OF)
    ).compute()
    np.testing.assert_allclose(plain.values["needs_weighted__water"], [8.0, 0, 0, 0])
    np.testing.assert_allclose(plain.values["needs_per_1000__water"], [4.0, 0, np.nan, np.nan])
    settings = IndicatorSettings(as_of=AS_OF, half_life_days=365, include_addressed=True)
    every = VillageIndicators(villages, needs=needs, settings=settings).compute().values
    np.testing.assert_array_equal(every["needs__health"], [1, 0, 0, 0])
    np.testing.assert_allclose(every["needs_weighted__health"], [decay(2, 29), 0, 0, 0])
    np.testing.assert_allclose(every["needs_weighted__water"][V2], decay(2, 60))
    # A later reference date ages every need and brings in the December report.
    later = IndicatorSettings(as_of=date(2025, 12, 31))
    late = VillageIndicators(villages, needs=needs, settings=later).compute()
    np.testing.assert_array_equal(late.values["needs_open"], [3, 1, 1, 0])
    assert late.method["needs"]["after_as_of"] == 0


def test_an_undated_need_keeps_its_full_weight_and_is_counted(villages):
    needs = pd.DataFrame(
        {
            "category": ["water", "water"],
            "severity": [4, 2],
            "reported_date": pd.to_datetime(["2025-06-30", None]),
            "kode": [V1, V1],
        }
    )
    settings = IndicatorSettings(as_of=AS_OF, half_life_days=30)
    result = VillageIndicators(villages, needs=needs, settings=settings).compute()
    assert result.values["needs_weighted__water"][V1] == pytest.approx(6.0)
    assert result.method["needs"]["undated"] == 1
    assert result.method["needs"]["status_missing"] == 2


def test_tables_become_prefixed_columns_with_podes_sentinels_as_unknown(villages):
    podes = pd.DataFrame(
        {
            "kode": pd.Series([V1, V2, V3, "15.04.99.2999"], dtype="str"),
            "jarak_puskesmas_km": [0.0, 99.9, 99.0, 5.0],
            "R502CK3": [12.0, 99.9, 3.5, 1.0],
            "nama": ["A", "B", "C", "D"],
            "keluarga": [100, 200, 300, 400],
        }
    )
    idm = pd.DataFrame(
        {
            "kode": [V1, V1, V2],
            "tahun": [2021, 2024, 2023],
            "idm": [0.5, 0.7, 0.6],
            "id_kecamatan": [1504010, 1504010, 1504010],  # an identifier, not a measure
        }
    )
    settings = IndicatorSettings(distance_columns=("r502ck3",))
    result = VillageIndicators(
        villages, tables={"podes": podes, "idm": idm}, settings=settings,
        versions={"podes": "ws/podes2019@2"},
    ).compute()  # fmt: skip
    v = result.values
    np.testing.assert_allclose(v["podes__jarak_puskesmas_km"], [0.0, np.nan, np.nan, np.nan])
    np.testing.assert_allclose(v["podes__R502CK3"], [12.0, np.nan, 3.5, np.nan])
    np.testing.assert_allclose(v["podes__keluarga"], [100, 200, 300, np.nan])
    np.testing.assert_allclose(v["idm__idm"], [0.7, 0.6, np.nan, np.nan])  # latest year
    assert "podes__nama" not in v
    assert "idm__tahun" not in v
    assert "idm__id_kecamatan" not in v
    assert result.method["tables"]["idm"]["ignored_columns"] == ["id_kecamatan"]
    t = result.method["tables"]["podes"]
    assert t["sentinels_replaced"] == {"jarak_puskesmas_km": 2, "R502CK3": 1}
    assert (t["matched"], t["unmatched_codes"]) == (3, 1)
    assert t["unmatched_examples"] == ["15.04.99.2999"]
    assert t["ignored_columns"] == ["nama"]
    assert result.method["tables"]["idm"]["periods"] == ["2023", "2024"]
    cat = result.catalogue.set_index("id")
    assert cat.loc["podes__jarak_puskesmas_km", "unit"] == "km"
    assert cat.loc["podes__keluarga", "unit"] == "value"
    assert cat.loc["podes__keluarga", "group"] == "podes"
    assert cat.loc["podes__keluarga", "source"] == ("ws/podes2019@2", "villages")
    assert result.versions == {"podes": "ws/podes2019@2"}


def test_repeated_codes_without_a_period_are_refused(villages):
    table = pd.DataFrame({"kode": [V1, V1], "x": [1.0, 2.0]})
    with pytest.raises(InputError, match="repeated village codes"):
        VillageIndicators(villages, tables={"survey": table}).compute()


def test_podes_distance_columns_come_from_the_dictionary():
    dictionary = pd.read_csv(demo_files()["podes2019_dictionary"], dtype=str)
    found = podes_distance_columns(dictionary)
    assert "R502CK3" in found
    assert "R401A1" not in found
    assert len(found) == 17  # the labels that say Jarak


def raster_bytes(values, transform, crs) -> bytes:
    values = np.asarray(values, dtype="float32")
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff", height=values.shape[0], width=values.shape[1], count=1,
            dtype="float32", crs=crs, transform=transform, nodata=-1.0,
        ) as ds:  # fmt: skip
            ds.write(values, 1)
        return mem.read()


def test_population_weighted_distance_and_share_beyond_from_a_raster(villages, facilities):
    # 0.01 degree cells over V1 (columns 0-4) and V2 (columns 5-9): people in three cells.
    values = np.zeros((5, 10))
    values[0, 0], values[4, 4], values[2, 7] = 100, 300, 50
    data = raster_bytes(values, from_origin(102.0, -1.65, 0.01, 0.01), "EPSG:4326")
    standards = {"puskesmas": 3000.0, "posyandu": 2000.0}
    result = VillageIndicators(
        villages, facilities, population=data, settings=IndicatorSettings(standards_m=standards),
        versions={"population": "ws/population@1"},
    ).compute()  # fmt: skip
    v = result.values
    np.testing.assert_allclose(v["population_raster"], [400, 50, np.nan, np.nan], rtol=1e-9)
    # The raster's people are the denominator where it covers the village.
    np.testing.assert_allclose(v["fac_per_1000__puskesmas"], [2.5, 0, np.nan, np.nan])
    np.testing.assert_allclose(v["fac_per_1000__posyandu"], [0, 40.0, np.nan, np.nan])
    f1 = [(102.02, -1.67)]
    d00 = geodesic_nearest(102.005, -1.655, f1)  # cell (0, 0), about 2.4 km
    d44 = geodesic_nearest(102.045, -1.695, f1)  # cell (4, 4), about 3.9 km
    d27 = geodesic_nearest(102.075, -1.675, f1)  # cell (2, 7), about 6.1 km
    assert d00 < 3000 * 0.99
    assert d44 > 3000 * 1.01
    assert v["dist_m__puskesmas"][V1] == pytest.approx((100 * d00 + 300 * d44) / 400, rel=DIST_RTOL)
    assert v["dist_m__puskesmas"][V2] == pytest.approx(d27, rel=DIST_RTOL)
    assert v["share_beyond__puskesmas"][V1] == pytest.approx(0.75)
    assert v["share_beyond__puskesmas"][V2] == 1.0
    posyandu = [(102.07, -1.66), (102.08, -1.69), (102.03, -1.72)]
    assert v["dist_m__posyandu"][V2] == pytest.approx(
        geodesic_nearest(102.075, -1.675, posyandu), rel=DIST_RTOL
    )
    assert v["share_beyond__posyandu"][V2] == 0.0
    # Off the raster: from the inner point, as without one.
    inner = inner_points(villages)[2]
    assert v["dist_m__puskesmas"][V3] == pytest.approx(geodesic_nearest(*inner, f1), rel=DIST_RTOL)
    assert result.method["distance"]["villages"] == {
        "representative_point": 2, "population_weighted": 2,
    }  # fmt: skip
    assert result.method["population"]["villages_raster"] == 2
    cat = result.catalogue.set_index("id")
    assert cat.loc["population_raster", "source"] == ("ws/population@1",)
    assert "ws/population@1" in cat.loc["dist_m__puskesmas", "source"]


def test_zonal_population_of_a_utm_raster_splits_the_edge_cell_by_area():
    # 1,000 m cells in UTM 48 S; W1 takes columns 0-1 and half of column 2, W2 the other half.
    transform = from_origin(200_000, 9_812_000, 1000, 1000)
    data = raster_bytes([[10, 20, 30], [40, 50, 60]], transform, "EPSG:32748")
    utm = gpd.GeoDataFrame(
        {"kode": ["15.04.02.2001", "15.04.02.2002"]},
        geometry=[
            shapely.box(200_000, 9_810_000, 202_500, 9_812_000),
            shapely.box(202_500, 9_810_000, 203_000, 9_812_000),
        ],
        crs="EPSG:32748",
    )
    villages = utm.to_crs(4326)  # stored in degrees, as the store keeps them
    result = VillageIndicators(villages, population=data).compute()
    # W1: 10 + 20 + 40 + 50 + (30 + 60) / 2 = 165; W2: (30 + 60) / 2 = 45.
    np.testing.assert_allclose(result.values["population_raster"], [165, 45], rtol=1e-6)
    assert result.method["zonal"]["population_outside_villages"] == pytest.approx(0, abs=1e-6)
    assert result.method["zonal"]["raster_crs"] == "EPSG:32748"


def test_catalogue_describes_every_column(villages, facilities, needs):
    result = VillageIndicators(
        villages, facilities, needs, settings=IndicatorSettings(as_of=AS_OF),
        versions={"villages": "ws/villages@3", "facilities": "ws/faskes@1"},
    ).compute()  # fmt: skip
    cat = result.catalogue
    assert list(cat.columns) == ["id", "label", "params", "unit", "group", "source"]
    assert list(cat["id"]) == list(result.values.columns)
    assert set(cat["unit"]) <= {"people", "count", "per 1,000 people", "m", "share"}
    row = cat.set_index("id").loc["dist_m__puskesmas"]
    assert (row["unit"], row["group"]) == ("m", "dist_m")
    assert row["source"] == ("ws/faskes@1", "ws/villages@3")
    assert result.labels()["dist_m__puskesmas"] == "Distance to the nearest puskesmas"
    assert result.labels()["needs_open"].startswith("Open needs")
    ids = set(cat["id"])
    assert {"population", "needs_weighted__all", "needs_per_1000__all", "needs_open"} <= ids
    assert {f"needs_per_1000__{c}" for c in ("water", "other")} <= ids


def test_settings_defaults_and_standards():
    s = IndicatorSettings()
    assert s.standards_m == DEFAULT_STANDARDS_M
    assert s.standards_m["puskesmas"] == 5000.0
    assert (s.half_life_days, s.as_of, s.types) == (None, None, None)
    assert IndicatorSettings(types=["sd", "sd", "smp"]).types == ("sd", "smp")
    assert IndicatorSettings(crs="EPSG:32748").to_dict()["crs"] == "EPSG:32748"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"standards_m": {"masjid": 1000.0}}, "not a facility type"),
        ({"standards_m": {"sd": -5}}, "positive number of metres"),
        ({"standards_m": {"sd": True}}, "positive number of metres"),
        ({"half_life_days": 0}, "half-life"),
        ({"as_of": "2025-06-30"}, "must be a date"),
        ({"types": ()}, "at least one facility type"),
        ({"types": ("rumah",)}, "not a facility type"),
        ({"crs": "EPSG:4326"}, "does not measure in metres"),
        ({"crs": "not a crs"}, "not a coordinate reference system"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(InputError, match=message):
        IndicatorSettings(**kwargs)


def _drop(frame, column):
    return frame.drop(columns=column)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v, f, n: (_drop(v, "kode"), f, n), "lacks the column.*kode"),
        (lambda v, f, n: (v.assign(kode=[V1, V1, V3, V4]), f, n), "must be unique"),
        (lambda v, f, n: (v.set_crs(None, allow_override=True), f, n), "no coordinate reference"),
        (lambda v, f, n: (v.assign(kode=[1, 2, 3, 4]), f, n), "must be text"),
        (lambda v, f, n: (v.assign(population=[-1.0, 0, 0, 0]), f, n), "negative population"),
        (
            lambda v, f, n: (v.set_geometry(shapely.points(np.zeros((4, 2)))), f, n),
            "no polygon geometry",
        ),
        (lambda v, f, n: (v, f.assign(type="masjid"), n), "unknown type value"),
        (lambda v, f, n: (v, _drop(f, "type"), n), "lacks the column.*type"),
        (
            lambda v, f, n: (v, f.set_geometry([shapely.box(0, 0, 1, 1)] * len(f)), n),
            "must hold points",
        ),
        (lambda v, f, n: (v, f, n.assign(severity=7)), "whole number from 1 to 5"),
        (lambda v, f, n: (v, f, _drop(n, "category")), "lacks the column.*category"),
        (lambda v, f, n: (v, f, n.assign(category="jalan")), "unknown category"),
        (lambda v, f, n: (v, f, n.assign(status="done")), "unknown status"),
        (lambda v, f, n: (v, f, n.assign(reported_date="kemarin")), "must hold dates"),
        (
            lambda v, f, n: (v, f, pd.DataFrame(_drop(n, ["kode", "geometry"]))),
            "neither village codes",
        ),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(villages, facilities, needs, change, message):
    v, f, n = change(villages, facilities, needs)
    with pytest.raises(InputError, match=message):
        VillageIndicators(v, f, n)


def test_programming_mistakes_raise_value_errors(villages):
    with pytest.raises(ValueError, match="GeoDataFrame"):
        VillageIndicators(pd.DataFrame(villages))
    with pytest.raises(ValueError, match="versions name inputs not given"):
        VillageIndicators(villages, versions={"needs": "ws/needs@1"})
    with pytest.raises(ValueError, match="PopulationGrid"):
        VillageIndicators(villages, population=42)
    with pytest.raises(InputError, match="cannot name an indicator table"):
        VillageIndicators(villages, tables={"a__b": pd.DataFrame({"kode": [V1]})})


def test_demo_counts_and_distances_match_a_plain_loop_and_geodesic_distances():
    files = demo_files()
    bridge = CodeBridge.from_directory(CODES_DIR)
    villages = import_layer(files["villages"], "villages").data
    facilities = import_layer(
        files["faskes_kemenkes"], "facilities", workspace_villages=villages, bridge=bridge,
        code_system="bps",
    ).data  # fmt: skip
    needs = import_layer(files["needs_kobo"], "needs", workspace_villages=villages).data
    result = VillageIndicators(
        villages, facilities, needs, settings=IndicatorSettings(as_of=date(2100, 1, 1))
    ).compute()
    v = result.values
    polygons = list(villages.geometry)
    codes = list(villages["kode"])

    def loop_counts(points) -> tuple[pd.Series, set[str]]:
        counts = pd.Series(0.0, index=codes)
        ambiguous: set[str] = set()
        for p in points:
            inside = [k for k, poly in zip(codes, polygons, strict=True) if poly.covers(p)]
            if len(inside) == 1:
                counts[inside[0]] += 1
            ambiguous |= set(inside) if len(inside) > 1 else set()
        return counts, ambiguous

    for kind, column, points in (
        (
            "puskesmas",
            "fac_count__puskesmas",
            facilities.geometry[facilities["type"] == "puskesmas"],
        ),
        ("needs", None, needs.geometry.dropna()),
    ):
        expected, ambiguous = loop_counts(points)
        found = v[column] if column else v["needs_open"] + v["needs_addressed"]
        plain = [k for k in codes if k not in ambiguous]
        np.testing.assert_array_equal(found[plain], expected[plain], err_msg=kind)
        assert found.sum() >= expected.sum()
        assert expected.sum() > 0
    hits = [(p.x, p.y) for p in facilities.geometry[facilities["type"] == "puskesmas"]]
    expected = [geodesic_nearest(x, y, hits) for x, y in inner_points(villages)]
    np.testing.assert_allclose(v["dist_m__puskesmas"], expected, rtol=DIST_RTOL)
    assert result.method["crs"] == "EPSG:32748"
