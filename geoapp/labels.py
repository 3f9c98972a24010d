"""Display labels of stored values (layer kinds, finding actions, counts), marked for translation.

Values stay English in the store and the JSON API; pages and the command line show these
labels through ``gettext``.
"""

from __future__ import annotations

from layers.report import N_

#: Layer kinds.
KIND_LABELS: dict[str, str] = {
    "villages": N_("Villages (desa/kelurahan)"),
    "facilities": N_("Facilities"),
    "needs": N_("Needs"),
    "indicators": N_("Indicators"),
    "raster": N_("Population raster"),
}

#: Finding actions.
ACTION_LABELS: dict[str, str] = {
    "repaired": N_("repaired"),
    "rejected": N_("rejected"),
    "warning": N_("warning"),
}

#: Report counts, in display order.
COUNT_LABELS: dict[str, str] = {
    "read": N_("read"),
    "accepted": N_("accepted"),
    "repaired": N_("repaired"),
    "rejected": N_("rejected"),
    "warnings": N_("warnings"),
}


def label(mapping: dict[str, str], value: str | None) -> str:
    """The label template of ``value`` in ``mapping``, or the value itself when unknown."""
    if value is None:
        return ""
    return mapping.get(value, value)
