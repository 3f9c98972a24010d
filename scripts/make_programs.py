"""Make a synthetic program register for a set of village codes (seeded, repeatable).

``make_register(codes)`` returns the three canonical tables (programs, assignments,
activities): by default 2,000 programs, 50,000 assignments (one per program and village)
and an activity log of about two entries per assignment spread over 24 months from
January 2024. ``python scripts/make_programs.py VILLAGES.gpkg OUT.zip`` writes them as a
register file (a zip of three CSV files, the layout of ``docs/programs.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from layers.programs.model import SECTORS, canonical  # noqa: E402

ORGANISATIONS = ("Dinas Kesehatan", "Dinas Pendidikan", "PMD", "Yayasan Sehat", "LSM Air")
DONORS = ("APBD", "APBN", "Dana Desa", "Donor A", "Donor B")
STATUS_WEIGHTS = {"active": 0.6, "completed": 0.2, "planned": 0.15, "dropped": 0.05}
UNIT_WEIGHTS = {"persons": 0.6, "households": 0.35, "groups": 0.05}


def make_register(
    codes: np.ndarray | list[str],
    *,
    n_programs: int = 2000,
    n_assignments: int = 50000,
    months: int = 24,
    start: str = "2024-01-01",
    activities_per_assignment: float = 2.0,
    seed: int = 20261127,
) -> dict[str, pd.DataFrame]:
    """The three register tables for ``codes``.

    Parameters
    ----------
    codes : array of str
        Village codes to assign programs to.
    n_programs, n_assignments : int
        Rows (assignments are distinct program-village pairs; at most
        ``n_programs * len(codes)``).
    months : int
        Length of the period the programs and the activity log cover.
    start : str
        First day of the period.
    activities_per_assignment : float
        Mean activity entries per assignment (Poisson).
    seed : int
        Random seed.
    """
    rng = np.random.default_rng(seed)
    codes = np.asarray(codes, dtype=object)
    first = pd.Timestamp(start)
    ids = np.array([f"P{i:05d}" for i in range(1, n_programs + 1)], dtype=object)
    p_start = first + pd.to_timedelta(rng.integers(0, months * 30 // 2, n_programs), unit="D")
    p_end = p_start + pd.to_timedelta(rng.integers(180, months * 30, n_programs), unit="D")
    statuses = rng.choice(list(STATUS_WEIGHTS), n_programs, p=list(STATUS_WEIGHTS.values()))
    groups = rng.choice(list(UNIT_WEIGHTS), n_programs, p=list(UNIT_WEIGHTS.values()))
    programs = pd.DataFrame(
        {
            "program_id": ids,
            "name": np.char.add("Program ", np.arange(1, n_programs + 1).astype(str)).astype(
                object
            ),
            "sector": rng.choice(SECTORS, n_programs),
            "organisation": rng.choice(ORGANISATIONS, n_programs),
            "donor": rng.choice(DONORS, n_programs),
            "budget": (rng.integers(10, 5000, n_programs) * 1_000_000).astype(np.float64),
            "start": p_start,
            "end": p_end,
            "target_group": groups,
            "status": statuses,
            "note": None,
        }
    )
    # Distinct (program, village) pairs: draw more than needed, keep the first of each.
    n_assignments = min(n_assignments, n_programs * len(codes))
    draw = int(n_assignments * 1.2) + 100
    prog = rng.integers(0, n_programs, draw)
    vill = rng.integers(0, len(codes), draw)
    pairs = pd.DataFrame({"p": prog, "v": vill}).drop_duplicates().head(n_assignments)
    prog, vill = pairs["p"].to_numpy(), pairs["v"].to_numpy()
    n = len(pairs)
    planned = rng.integers(10, 500, n)
    a_status = np.where(
        rng.random(n) < 0.9,
        statuses[prog],
        rng.choice(list(STATUS_WEIGHTS), n, p=list(STATUS_WEIGHTS.values())),
    )
    done = np.isin(a_status, ["active", "completed"])
    achieved = np.where(done, (planned * rng.random(n)).astype(np.int64), 0)
    a_start = p_start[prog] + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    assignments = pd.DataFrame(
        {
            "program_id": ids[prog],
            "kode": codes[vill],
            "planned": planned,
            "achieved": achieved,
            "unit": groups[prog],
            "start": a_start,
            "end": p_end[prog],
            "status": a_status,
            "scenario": None,
            "note": None,
        }
    )
    # Activity log: entries after each active or completed assignment's start.
    per = rng.poisson(activities_per_assignment, n) * done
    which = np.repeat(np.arange(n), per)
    m = len(which)
    last = first + pd.Timedelta(days=months * 30)
    offset = pd.to_timedelta(rng.integers(0, months * 30, m), unit="D")
    dates = (a_start[which] + offset).where(a_start[which] + offset <= last, last)
    activities = pd.DataFrame(
        {
            "activity_id": np.array([f"L{i:07d}" for i in range(1, m + 1)], dtype=object),
            "program_id": ids[prog[which]],
            "kode": codes[vill[which]],
            "date": dates,
            "figure": rng.integers(1, 60, m).astype(np.float64),
            "unit": groups[prog[which]],
            "description": "kunjungan",
        }
    )
    return {
        "programs": canonical("programs", programs),
        "assignments": canonical("assignments", assignments),
        "activities": canonical("activities", activities),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("villages", help="villages file (its kode column is used)")
    parser.add_argument("out", help="register file to write (.zip or .xlsx)")
    parser.add_argument("--programs", type=int, default=2000)
    parser.add_argument("--assignments", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args(argv)
    import pyogrio

    from layers.programs.files import write_register_file

    codes = pyogrio.read_dataframe(args.villages, columns=["kode"], read_geometry=False)["kode"]
    tables = make_register(
        codes.astype(str).to_numpy(),
        n_programs=args.programs,
        n_assignments=args.assignments,
        seed=args.seed,
    )
    path = write_register_file(tables, args.out)
    print(path, {k: len(v) for k, v in tables.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
