"""Coverage: who services reach, and whether programs reached the people they targeted.

- :class:`ServiceCoverage`: people within the standard distance of each facility type,
  facilities per 1,000 people, each against a target, by village, kecamatan, kabupaten;
- :class:`ProgramReach`: villages and people targeted versus reached, high-need villages
  reached, gaps and overlaps, by program, sector and kecamatan;
- :func:`reach_timeseries`: reach at every month or quarter end, in one pass;
- :func:`before_after`: selected versus other villages at a baseline and a follow-up;
- :func:`coverage_table`: service coverage and reach of a workspace in one call.
"""

from __future__ import annotations

from layers.coverage.before_after import before_after
from layers.coverage.reach import ProgramReach, high_need, reach_timeseries
from layers.coverage.service import (
    DEFAULT_PER_1000_TARGETS,
    DEFAULT_SHARE_TARGETS,
    TARGET_BASIS,
    ServiceCoverage,
)
from layers.coverage.table import coverage_json, coverage_table

__all__ = [
    "DEFAULT_PER_1000_TARGETS",
    "DEFAULT_SHARE_TARGETS",
    "TARGET_BASIS",
    "ProgramReach",
    "ServiceCoverage",
    "before_after",
    "coverage_json",
    "coverage_table",
    "high_need",
    "reach_timeseries",
]
