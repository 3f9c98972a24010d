"""Program placement: which villages (desa) get a program, and what each rule costs.

Build a :class:`ProgramPlacement` from a table of villages (score, population,
kecamatan, cost), give a budget or a number of villages and the :class:`Rules` a meeting
agreed, call :meth:`~ProgramPlacement.solve` and read the selection, its benefit and cost,
and the benefit each rule gives up. The best selection under a budget is a 0-1 integer
program (a knapsack with side constraints) solved with HiGHS or CBC through PuLP; without
a budget or other limits, sorting by benefit is exact. The formulation is in
``docs/targeting.md``.

Modules: :mod:`layers.targeting.rules` (rules, input checks, conflicts),
:mod:`layers.targeting.solve` (sorting, the integer program, the greedy fallback) and
:mod:`layers.targeting.placement` (:class:`ProgramPlacement`).
"""

from layers.targeting.placement import REASONS, ProgramPlacement
from layers.targeting.rules import BENEFITS, NOTES, RULE_NAMES, Note, Rules
from layers.targeting.solve import SOLVERS, available_solvers

__all__ = [
    "BENEFITS",
    "NOTES",
    "REASONS",
    "RULE_NAMES",
    "SOLVERS",
    "Note",
    "ProgramPlacement",
    "Rules",
    "available_solvers",
]
