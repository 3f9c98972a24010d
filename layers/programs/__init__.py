"""Programs: the register of what was done where, its files, and the needs lifecycle.

- :mod:`layers.programs.model`: the three tables, their columns and vocabularies;
- :mod:`layers.programs.checks`: row-by-row checks of register files;
- :mod:`layers.programs.files`: reading and writing XLSX / zipped CSV register files;
- :mod:`layers.programs.register`: :class:`Register` (load, edit with conflict checks),
  :func:`import_register`, :func:`export_register`, :func:`assign_from_scenario`;
- :mod:`layers.programs.needs_status`: verifying, linking and closing reported needs.
"""

from __future__ import annotations

from layers.programs.checks import RegisterImportError, RegisterRowError
from layers.programs.model import DATASETS, SECTORS, STATUSES, UNITS
from layers.programs.register import (
    EditResult,
    Register,
    assign_from_scenario,
    assign_villages,
    export_register,
    import_register,
    latest_version,
    save_register,
)

__all__ = [
    "DATASETS",
    "SECTORS",
    "STATUSES",
    "UNITS",
    "EditResult",
    "Register",
    "RegisterImportError",
    "RegisterRowError",
    "assign_from_scenario",
    "assign_villages",
    "export_register",
    "import_register",
    "latest_version",
    "save_register",
]
