"""Labels and units of indicators as a saved run names them, translated on display.

A saved run keeps every indicator's values but not the catalogue that labels them, so the
label template, its parameters and the unit are found again from the indicator id and the
run's settings, by the same rules as :class:`layers.indicators.VillageIndicators`
(``dist_m__puskesmas``: "Distance to the nearest %(type)s", metres; a table column
``podes2019__r502ek3``: "%(column)s (%(dataset)s)").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from layers.errors import N_, fill
from layers.indicators import GROUPS, LABELS
from layers.schema import FACILITY_TYPE_LABELS, NEED_CATEGORY_LABELS

#: Units of the indicators, marked for translation.
UNIT_LABELS: dict[str, str] = {
    "m": N_("m"),
    "km": N_("km"),
    "people": N_("people"),
    "count": N_("count"),
    "per 1,000 people": N_("per 1,000 people"),
    "share": N_("share of people"),
    "value": "",
}
#: Parameters shown by a translated name: facility types and need categories.
_NAMED = {"type": FACILITY_TYPE_LABELS, "category": NEED_CATEGORY_LABELS}
#: Indicator groups whose part after ``__`` is a facility type or a need category.
_TYPED = {"fac_count": "type", "fac_per_1000": "type", "dist_m": "type", "share_beyond": "type"}
_CATEGORISED = {"needs": "category", "needs_weighted": "category", "needs_per_1000": "category"}


def indicator_info(
    indicator: str, settings: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any], str]:
    """Label template, its parameters and the unit of an indicator id.

    Parameters
    ----------
    indicator : str
        Indicator id (``dist_m__puskesmas``, ``needs_per_1000__health``,
        ``podes2019__r502ek3``, ...).
    settings : mapping, optional
        The run's indicator settings (``IndicatorSettings.to_dict()``): standard distances
        and the table columns that hold distances.

    Returns
    -------
    tuple
        ``(label, params, unit)``: the English template (marked for translation in
        :mod:`layers.indicators`), its parameters and the unit id (a key of
        :data:`UNIT_LABELS`).
    """
    settings = settings or {}
    if indicator in LABELS:
        label, unit = LABELS[indicator]
        return label, {}, unit
    group, _, rest = indicator.partition("__")
    group = GROUPS.get(indicator, group)
    if group in _TYPED and rest:
        params: dict[str, Any] = {"type": rest}
        if group == "share_beyond":
            standard = (settings.get("standards_m") or {}).get(rest)
            params["standard"] = f"{float(standard):.0f}" if standard is not None else "?"
        label, unit = LABELS[group]
        return label, params, unit
    if group in _CATEGORISED and rest:
        label, unit = LABELS[group]
        return label, {"category": rest}, unit
    if group in LABELS and not rest:
        label, unit = LABELS[group]
        return label, {}, unit
    # A column of an indicator table: "<dataset>__<column>".
    extra = {str(c).lower() for c in settings.get("distance_columns") or ()}
    distance = "jarak" in rest.lower() or rest.lower() in extra
    return LABELS["table"][0], {"column": rest, "dataset": group}, "km" if distance else "value"


def render_label(
    template: str, params: Mapping[str, Any], gettext: Callable[[str], str] | None = None
) -> str:
    """An indicator label filled in, facility types and need categories by their names.

    Parameters
    ----------
    template : str
        English template.
    params : mapping
        Its parameters.
    gettext : callable, optional
        Translation function; English when omitted.
    """
    tr = gettext or (lambda text: text)
    named = {
        k: tr(_NAMED[k][v]) if k in _NAMED and v in _NAMED[k] else v for k, v in params.items()
    }
    return fill(template, named, tr)


def unit_label(unit: str | None, gettext: Callable[[str], str] | None = None) -> str | None:
    """The unit's display text in the language of ``gettext`` (None stays None)."""
    if unit is None:
        return None
    text = UNIT_LABELS.get(unit, unit)
    return (gettext or (lambda t: t))(text) if text else ""
