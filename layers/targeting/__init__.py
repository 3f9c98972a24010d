"""Program placement: which villages (desa) get a program, and what each rule costs.

Build a :class:`ProgramPlacement` from a table of villages (score, population,
kecamatan, cost), give a budget or a number of villages and the :class:`Rules` a meeting
agreed, call :meth:`~ProgramPlacement.solve` and read the selection, its benefit and cost,
and the benefit each rule gives up. The best selection under a budget is a 0-1 integer
program (a knapsack with side constraints) solved with HiGHS or CBC through PuLP; without
a budget or other limits, sorting by benefit is exact. The formulation is in
``docs/targeting.md``.

Modules: :mod:`layers.targeting.rules` (rules, input checks, conflicts),
:mod:`layers.targeting.solve` (sorting, the integer program, the greedy fallback, HiGHS
stopped hard at the time limit), :mod:`layers.targeting.placement`
(:class:`ProgramPlacement`) and, for where new facilities should go,
:mod:`layers.targeting.siting` (:class:`FacilitySiting`: maximal covering, set covering,
p-median; ``docs/siting.md``) with its inputs in :mod:`layers.targeting.siting_inputs`
and models in :mod:`layers.targeting.siting_models`.
"""

from layers.targeting.placement import REASONS, ProgramPlacement
from layers.targeting.rules import BENEFITS, NOTES, RULE_NAMES, Note, Rules
from layers.targeting.siting import (
    ENGINES,
    MODELS,
    SITING_NOTES,
    FacilitySiting,
    SitingNote,
    demand_from_raster,
    demand_from_villages,
    grid_candidates,
    layer_candidates,
    village_candidates,
)
from layers.targeting.solve import SOLVERS, available_solvers

__all__ = [
    "BENEFITS",
    "ENGINES",
    "MODELS",
    "NOTES",
    "REASONS",
    "RULE_NAMES",
    "SITING_NOTES",
    "SOLVERS",
    "FacilitySiting",
    "Note",
    "ProgramPlacement",
    "Rules",
    "SitingNote",
    "available_solvers",
    "demand_from_raster",
    "demand_from_villages",
    "grid_candidates",
    "layer_candidates",
    "village_candidates",
]
