"""Service coverage, program reach, time series and before/after on tiny hand-made areas.

The area: four villages on a 3 x 3 raster of 1 km cells (EPSG:32748), people per cell

    row 0:  10  20  30        village A: rows 0-1, columns 0-1 (10+20+40+50 = 120)
    row 1:  40  50  60        village B: rows 0-1, column 2    (30+60 = 90)
    row 2:  70  80  90        village C: row 2, columns 0-1    (70+80 = 150)
                              village D: row 2, column 2       (90)

A and B lie in kecamatan 15.02.01 ("Satu"), C and D in 15.02.02 ("Dua"). A puskesmas
stands at the centre of cell (0, 0), a posyandu at the centre of cell (2, 2). A cell
(r, c) centre lies 1000 * sqrt(r^2 + c^2) m from the puskesmas.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import Point, box

from layers.coverage import (
    ProgramReach,
    ServiceCoverage,
    before_after,
    high_need,
    reach_timeseries,
)
from layers.errors import InputError
from layers.zonal import PopulationGrid

X0, YTOP, CELL = 500_000.0, 9_800_000.0, 1000.0
CRS = "EPSG:32748"
CODES = ["15.02.01.2001", "15.02.01.2002", "15.02.02.2001", "15.02.02.2002"]
A, B, C, D = CODES


def cells(r0: int, r1: int, c0: int, c1: int):
    """Box over rows r0..r1 and columns c0..c1 (inclusive)."""
    return box(X0 + c0 * CELL, YTOP - (r1 + 1) * CELL, X0 + (c1 + 1) * CELL, YTOP - r0 * CELL)


def centre(r: int, c: int) -> Point:
    return Point(X0 + (c + 0.5) * CELL, YTOP - (r + 0.5) * CELL)


@pytest.fixture
def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "kode": CODES,
            "name": ["Alfa", "Bravo", "Charlie", "Delta"],
            "kecamatan": ["Satu", "Satu", "Dua", "Dua"],
            "kabupaten": ["Merangin"] * 4,
            "population": [100.0, 80.0, 160.0, 110.0],
        },
        geometry=[cells(0, 1, 0, 1), cells(0, 1, 2, 2), cells(2, 2, 0, 1), cells(2, 2, 2, 2)],
        crs=CRS,
    )


@pytest.fixture
def facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"facility_id": ["F1", "F2"], "type": ["puskesmas", "posyandu"], "kode": [A, D]},
        geometry=[centre(0, 0), centre(2, 2)],
        crs=CRS,
    )


@pytest.fixture
def grid() -> PopulationGrid:
    people = np.array([[10, 20, 30], [40, 50, 60], [70, 80, 90]], dtype=np.float32)
    return PopulationGrid(people, Affine(CELL, 0, X0, 0, -CELL, YTOP), CRS)


STANDARDS = {"puskesmas": 2100.0, "posyandu": 1500.0}


def rows(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    return table.loc[table["type"] == kind].set_index("area_kode")


# --- service coverage ------------------------------------------------------------------------


def test_people_within_reach_from_the_raster_cells(villages, facilities, grid):
    cov = ServiceCoverage(
        villages, facilities, population=grid, standards=STANDARDS, crs=CRS
    ).compute()
    v = rows(cov.table("village"), "puskesmas")
    # Within 2100 m of the puskesmas: cells (0,0) (0,1) (1,0) (1,1) (0,2) (2,0).
    assert v["people"].tolist() == [120, 90, 150, 90]
    assert v["people_within"].tolist() == pytest.approx([120, 30, 70, 0])
    assert v["share_within"].tolist() == pytest.approx([1.0, 30 / 90, 70 / 150, 0.0])
    assert v["people_source"].unique().tolist() == ["raster"]
    assert v["share_met"].tolist() == [True, False, False, False]  # target 80 %
    assert v["facilities"].tolist() == [1, 0, 0, 0]
    assert v["per_1000"].tolist() == pytest.approx([1000 / 120, 0, 0, 0])
    assert v["per_1000_met"].tolist() == [True, False, False, False]  # 1 per 30,000
    k = rows(cov.table("kecamatan"), "puskesmas")
    assert k.loc["15.02.01", "area"] == "Satu"
    assert k["villages"].tolist() == [2, 2]
    assert k.loc["15.02.01", ["people", "people_within"]].tolist() == [210, 150]
    assert k.loc["15.02.02", ["people", "people_within"]].tolist() == [240, 70]
    assert k.loc["15.02.01", "share_within"] == pytest.approx(150 / 210)
    assert k.loc["15.02.01", "per_1000"] == pytest.approx(1000 / 210)
    kab = rows(cov.table("kabupaten"), "puskesmas").iloc[0]
    assert (kab["area"], kab["people"], kab["people_within"]) == ("Merangin", 450, 220)
    assert kab["share_within"] == pytest.approx(220 / 450)
    assert kab["per_1000"] == pytest.approx(1000 / 450)
    # Posyandu at (2,2), 1500 m: cells (2,2) (1,2) (2,1) (1,1).
    p = rows(cov.table("village"), "posyandu")
    assert p["people_within"].tolist() == pytest.approx([50, 60, 80, 90])
    assert p["share_within"].tolist() == pytest.approx([50 / 120, 60 / 90, 80 / 150, 1.0])
    assert p["share_met"].tolist() == [False, False, False, True]
    assert p["target_per_1000"].isna().all()
    assert p["per_1000_met"].isna().all()
    pk = rows(cov.table("kecamatan"), "posyandu")
    assert pk.loc["15.02.01", "people_within"] == pytest.approx(50 + 60)
    assert pk.loc["15.02.02", "people_within"] == pytest.approx(80 + 90)
    assert cov.method["standards_m"] == STANDARDS


def test_without_raster_the_village_point_and_table_population_count(villages, facilities):
    cov = ServiceCoverage(villages, facilities, standards=STANDARDS, crs=CRS).compute()
    v = rows(cov.table("village"), "puskesmas")
    # Inner points are the rectangles' centres: A 707 m, B and C 2062 m, D 2828 m away.
    assert v["people"].tolist() == [100, 80, 160, 110]
    assert v["people_within"].tolist() == [100, 80, 160, 0]
    assert v["people_source"].unique().tolist() == ["village table"]
    kab = rows(cov.table("kabupaten"), "puskesmas").iloc[0]
    assert kab["share_within"] == pytest.approx(340 / 450)
    assert math.isclose(2000 * math.sqrt(1 + 1 / 16), 2061.55, rel_tol=1e-4)


def test_targets_can_be_changed_and_are_checked(villages, facilities, grid):
    cov = ServiceCoverage(
        villages,
        facilities,
        population=grid,
        standards=STANDARDS,
        share_targets={"puskesmas": 0.3},
        per_1000_targets={"posyandu": 5.0},
        crs=CRS,
    ).compute()
    v = rows(cov.table("village"), "puskesmas")
    assert v["share_met"].tolist() == [True, True, True, False]
    assert v["target_per_1000"].isna().all()
    p = rows(cov.table("village"), "posyandu")
    assert p["per_1000"].tolist() == pytest.approx([0, 0, 0, 1000 / 90])
    assert p["per_1000_met"].tolist() == [False, False, False, True]
    with pytest.raises(InputError, match="must be a number from 0 to 1"):
        ServiceCoverage(villages, facilities, share_targets={"puskesmas": 1.5})
    with pytest.raises(InputError, match="unknown facility type 'klinik'"):
        ServiceCoverage(villages, facilities, share_targets={"klinik": 0.5})
    with pytest.raises(InputError, match="unknown level"):
        cov.table("desa")


def test_coverage_refuses_bad_input(villages, facilities):
    with pytest.raises(InputError, match="villages must be a GeoDataFrame"):
        ServiceCoverage(pd.DataFrame(villages.drop(columns="geometry")), facilities)
    numeric = villages.assign(kode=[1502012001, 1502012002, 1502022001, 1502022002])
    with pytest.raises(InputError, match="must be text"):
        ServiceCoverage(numeric, facilities)
    with pytest.raises(InputError, match="unique"):
        ServiceCoverage(villages.assign(kode=[A, A, C, D]), facilities)


# --- program reach ----------------------------------------------------------------------------


def d(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture
def register() -> dict[str, pd.DataFrame]:
    programs = pd.DataFrame(
        {
            "program_id": ["P1", "P2", "P3"],
            "name": ["Posyandu aktif", "Kelas ibu", "Sumur bor"],
            "sector": ["health", "health", "water_sanitation"],
            "start": [d("2024-01-01"), d("2024-03-01"), d("2024-01-01")],
            "target_group": ["persons", "persons", "households"],
            "status": ["active", "planned", "dropped"],
        }
    )
    assignments = pd.DataFrame(
        {
            "program_id": ["P1", "P1", "P2", "P3"],
            "kode": [A, B, A, C],
            "planned": [100, 50, 20, 30],
            "achieved": [0, 40, 0, 30],
            "unit": ["persons", "persons", "persons", "households"],
            "start": [d("2024-01-01"), d("2024-02-10"), pd.NaT, pd.NaT],
            "status": ["active", "active", "planned", "active"],
        }
    )
    activities = pd.DataFrame(
        {
            "activity_id": ["a1", "a2", "a3", "a4", "a5"],
            "program_id": ["P1", "P1", "P1", "P1", "P2"],
            "kode": [A, A, A, None, A],
            "date": [
                d("2024-01-15"),
                d("2024-02-20"),
                d("2024-04-05"),
                d("2024-03-01"),
                d("2024-05-01"),
            ],
            "figure": [30.0, 25.0, 10.0, 5.0, 3.0],
            "unit": ["persons", "persons", "persons", "persons", "households"],
        }
    )
    return {"programs": programs, "assignments": assignments, "activities": activities}


@pytest.fixture
def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {"kode": CODES, "score": [90.0, 20.0, 70.0, 10.0], "need_class": [5, 2, 4, 1]}
    )


def test_reach_by_program_sector_and_kecamatan(register, villages, scores):
    reach = ProgramReach(register, villages, scores, as_of="2024-03-31").compute()
    p = reach.by_program.set_index("group")
    assert list(p.index) == ["P1", "P2"]  # P3 is dropped
    # P1: A from the log (30 + 25 by March), B from its achieved 40 (from 10 Feb), and 5
    # logged without a village.
    assert p.loc["P1", ["villages_targeted", "villages_reached"]].tolist() == [2, 2]
    assert p.loc["P1", "planned_persons"] == 150
    assert p.loc["P1", "achieved_persons"] == 100
    assert p.loc["P1", ["population_targeted", "population_reached"]].tolist() == [180, 180]
    assert p.loc["P2", ["villages_targeted", "villages_reached"]].tolist() == [1, 0]
    assert p.loc["P2", "achieved_households"] == 0  # logged in May
    assert p.loc["P1", "high_need_reached"] == 1
    assert p.loc["P1", "high_need_villages"] == 2
    assert p.loc["P1", "share_high_need_reached"] == pytest.approx(0.5)
    assert p.loc["P1", "share_villages_reached"] == pytest.approx(1.0)
    s = reach.by_sector.set_index("group")
    assert list(s.index) == ["health"]
    assert s.loc["health", "programs"] == 2
    assert s.loc["health", ["villages_targeted", "villages_reached"]].tolist() == [2, 2]
    assert s.loc["health", ["planned_persons", "achieved_persons"]].tolist() == [170, 100]
    k = reach.by_kecamatan.set_index("group")
    assert k.loc["15.02.01", "name"] == "Satu"
    assert k.loc["15.02.01", ["villages_targeted", "villages_reached"]].tolist() == [2, 2]
    assert k.loc["15.02.01", "achieved_persons"] == 95  # the 5 without a village are not here
    assert k.loc["15.02.02", ["villages_targeted", "villages_reached"]].tolist() == [0, 0]
    assert k.loc["15.02.02", ["high_need_villages", "high_need_reached"]].tolist() == [1, 0]
    assert reach.totals["villages_reached"] == 2
    assert reach.totals["achieved_persons"] == 100
    assert reach.high_need_rule == {"rule": "need_class", "classes": [4, 5]}
    assert reach.gaps["kode"].tolist() == [C]  # high need, its only program dropped
    overlap = reach.overlaps.iloc[0]
    assert (overlap["kode"], overlap["sector"], overlap["program_ids"]) == (A, "health", "P1, P2")
    assert len(reach.overlaps) == 1
    assert reach.to_dict()["as_of"] == "2024-03-31"


def test_reach_before_anything_happened(register, villages):
    reach = ProgramReach(register, villages, as_of="2023-12-31").compute()
    assert reach.totals["villages_reached"] == 0
    assert reach.totals["villages_targeted"] == 2
    assert reach.totals["achieved_persons"] == 0
    assert reach.high_need_rule == {"rule": "none"}


def test_high_need_by_score_quantile_says_so():
    codes = pd.Index([f"v{i}" for i in range(10)])
    flags, rule = high_need(pd.Series(np.arange(10.0), index=codes), codes)
    assert flags.sum() == 2
    assert list(codes[flags.to_numpy()]) == ["v8", "v9"]
    assert rule["rule"] == "top_share"
    assert rule["threshold"] == pytest.approx(7.2)


def test_reach_timeseries_is_cumulative_across_snapshots(register, villages):
    ts = reach_timeseries(register, villages, freq="M", start="2024-01-01", end="2024-05-31")
    p1 = ts.loc[(ts["level"] == "program") & (ts["group"] == "P1")].set_index("date")
    months = pd.date_range("2024-01-31", periods=5, freq="ME")
    assert list(p1.index) == list(months)
    assert p1["villages_reached"].tolist() == [1, 2, 2, 2, 2]
    assert p1["achieved_persons"].tolist() == [30, 95, 100, 110, 110]
    assert p1["population_reached"].tolist() == [100, 180, 180, 180, 180]
    p2 = ts.loc[(ts["level"] == "program") & (ts["group"] == "P2")]
    assert p2["achieved_households"].tolist() == [0, 0, 0, 0, 3]
    assert p2["villages_reached"].tolist() == [0, 0, 0, 0, 1]
    kec = ts.loc[(ts["level"] == "kecamatan") & (ts["group"] == "15.02.01")]
    assert kec["achieved_persons"].tolist() == [30, 95, 95, 105, 105]
    total = ts.loc[ts["level"] == "all"]
    assert total["villages_reached"].tolist() == [1, 2, 2, 2, 2]
    # The same figure as ProgramReach on each snapshot date.
    for when, value in zip(months, total["achieved_persons"], strict=True):
        at = ProgramReach(register, villages, as_of=when).compute()
        assert at.totals["achieved_persons"] == value
    q = reach_timeseries(register, villages, freq="Q", start="2024-01-01", end="2024-06-30")
    qt = q.loc[q["level"] == "all"]
    assert qt["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-31", "2024-06-30"]
    assert qt["achieved_persons"].tolist() == [100, 110]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freq": "W"}, "unknown frequency"),
        ({"start": "2024-05-01", "end": "2024-01-01"}, "before the start"),
        ({"start": "kemarin"}, "must be a date"),
        ({"levels": ["desa"]}, "unknown levels"),
    ],
)
def test_reach_timeseries_refuses_bad_input(register, villages, kwargs, message):
    with pytest.raises(InputError, match=message):
        reach_timeseries(register, villages, **kwargs)


def test_reach_refuses_assignments_outside_the_villages(register, villages):
    register["assignments"].loc[0, "kode"] = "15.02.09.2001"
    with pytest.raises(InputError, match="not in the villages table"):
        ProgramReach(register, villages, as_of="2024-03-31").compute()


# --- before / after ---------------------------------------------------------------------------


def test_before_after_difference_in_differences():
    baseline = pd.DataFrame(
        {
            "kode": CODES,
            "score": [80.0, 60.0, 40.0, 20.0],
            "rank": [1, 2, 3, 4],
            "dist_m__puskesmas": [9000.0, 7000.0, 3000.0, np.nan],
        }
    )
    followup = pd.DataFrame(
        {
            "kode": CODES,
            "score": [50.0, 40.0, 38.0, 22.0],
            "rank": [1, 2, 3, 4],
            "dist_m__puskesmas": [2000.0, 7000.0, 3000.0, 1000.0],
        }
    )
    out = before_after(baseline, followup, [A, B]).set_index("measure")
    assert list(out.index) == ["score", "dist_m__puskesmas"]  # rank is not a measure
    s = out.loc["score"]
    assert (s["selected_before"], s["selected_after"], s["selected_change"]) == (70, 45, -25)
    assert (s["other_before"], s["other_after"], s["other_change"]) == (30, 30, 0)
    assert s["difference_in_differences"] == -25
    dist = out.loc["dist_m__puskesmas"]
    assert dist["other_villages"] == 1  # D has no baseline distance
    assert dist["selected_change"] == -3500
    assert dist["other_change"] == 0
    assert out.attrs["villages"] == {
        "both": 4, "only_baseline": 0, "only_followup": 0, "selected_missing": 0,
    }  # fmt: skip
    with pytest.raises(InputError, match="none of the selected villages"):
        before_after(baseline, followup, ["99.99.99.9999"])
    with pytest.raises(InputError, match="unknown measures"):
        before_after(baseline, followup, [A], measures=["rank"])
