"""Scoring profiles: which indicators make up an underserved score, and how each counts.

A profile is a named list of :class:`IndicatorRule`: one per indicator id (the ids of
``docs/indicators.md``, such as ``dist_m__puskesmas`` or ``needs_per_1000__health``), each with
a weight, a direction (does a higher value mean more need, or less?), a normalisation onto
0-1, an optional cap on raw values and a policy for villages without a value. The score itself
is computed by :class:`layers.scoring.Score`; the method is described in ``docs/scoring.md``.

Profiles are plain data: :meth:`ScoringProfile.to_dict` gives JSON with a format version, and
:meth:`ScoringProfile.from_dict` reads it back, naming the field that is wrong. The built-in
profiles below (:func:`builtin_profiles`) are project defaults for partners to adjust in a
meeting, not weights derived from a study; their rationale is in ``docs/scoring.md``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from layers.errors import N_, InputError

__all__ = [
    "CLASSIFICATIONS",
    "DIRECTIONS",
    "MISSING_POLICIES",
    "NORMALISATIONS",
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "IndicatorRule",
    "ScoringProfile",
    "builtin_profiles",
    "get_builtin",
]

Direction = Literal["need", "better"]
Normalisation = Literal["minmax", "zscore", "rank"]
MissingPolicy = Literal["exclude", "median", "worst"]
ClassificationMethod = Literal["quantiles", "natural_breaks", "equal_interval"]

DIRECTIONS: tuple[str, ...] = ("need", "better")
NORMALISATIONS: tuple[str, ...] = ("minmax", "zscore", "rank")
MISSING_POLICIES: tuple[str, ...] = ("exclude", "median", "worst")
CLASSIFICATIONS: tuple[str, ...] = ("quantiles", "natural_breaks", "equal_interval")

#: Fewest and most need classes a profile may ask for (each count has its own labels).
MIN_CLASSES = 2
MAX_CLASSES = 7

#: The ``format`` value of a profile's JSON, and the newest version this code reads.
PROFILE_FORMAT = "jangkau.scoring-profile"
PROFILE_VERSION = 1

#: Machine names follow the store's rule for names (workspaces, datasets, collections).
NAME_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
#: Indicator ids: ``population``, ``dist_m__puskesmas``, ``podes2019__r502ek3``, ...
INDICATOR_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")

Cap = tuple[float | None, float | None]

#: Indicators of a table named in an error, at most (census tables have hundreds).
_SHOWN = 40

_RULE_KEYS = ("indicator", "weight", "direction", "normalisation", "cap", "missing", "optional")
_RULE_REQUIRED = ("indicator", "weight")
_PROFILE_KEYS = (
    "format",
    "version",
    "name",
    "title",
    "description",
    "rules",
    "classes",
    "classification",
)
_PROFILE_REQUIRED = ("format", "name", "title", "rules")


def _invalid(template: str, **params: Any) -> InputError:
    return InputError(template, params=params)


def _one_of(field_name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _invalid(
            N_("%(field)s must be one of %(allowed)s, not %(value)r"),
            field=field_name,
            allowed=", ".join(allowed),
            value=value,
        )
    return value


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not a finite number (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(field_name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid(N_("%(field)s must be text, not %(value)r"), field=field_name, value=value)
    return value


def _check_name(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise _invalid(
            N_(
                "%(field)s must be 1 to 64 lowercase letters, digits, '-' or '_' "
                "(for example 'health_access'), not %(value)r"
            ),
            field=field_name,
            value=value,
        )
    return value


def _check_classes(field_name: str, value: Any) -> int:
    number = _number(value)
    if number is None or not number.is_integer() or not MIN_CLASSES <= number <= MAX_CLASSES:
        raise _invalid(
            N_("%(field)s must be a whole number from %(low)s to %(high)s, not %(value)r"),
            field=field_name,
            low=MIN_CLASSES,
            high=MAX_CLASSES,
            value=value,
        )
    return int(number)


def _check_cap(field_name: str, value: Any) -> Cap | None:
    if value is None:
        return None
    bad = not isinstance(value, list | tuple) or len(value) != 2
    bounds: list[float | None] = []
    if not bad:
        for bound in value:
            number = _number(bound)
            bad = bad or (bound is not None and number is None)
            bounds.append(number)
    if not bad and None not in bounds and bounds[0] > bounds[1]:  # type: ignore[operator]
        bad = True
    if bad:
        raise _invalid(
            N_(
                "%(field)s must be a pair [lower, upper] of numbers with lower <= upper "
                "(either may be empty), not %(value)r"
            ),
            field=field_name,
            value=value,
        )
    if bounds == [None, None]:
        return None
    return (bounds[0], bounds[1])


def _check_rule_fields(
    where: str,
    indicator: Any,
    weight: Any,
    direction: Any,
    normalisation: Any,
    cap: Any,
    missing: Any,
    optional: Any,
) -> tuple[str, float, str, str, Cap | None, str, bool]:
    """Check the fields of one rule; ``where`` prefixes the field names (``rules[2].``)."""
    if not isinstance(indicator, str) or not INDICATOR_PATTERN.fullmatch(indicator):
        raise _invalid(
            N_(
                "%(field)s must be an indicator id such as dist_m__puskesmas (letters, digits, "
                "'_', '.' or '-'), not %(value)r"
            ),
            field=f"{where}indicator",
            value=indicator,
        )
    number = _number(weight)
    if number is None or number <= 0:
        raise _invalid(
            N_("%(field)s must be a number greater than 0, not %(value)r"),
            field=f"{where}weight",
            value=weight,
        )
    _one_of(f"{where}direction", direction, DIRECTIONS)
    _one_of(f"{where}normalisation", normalisation, NORMALISATIONS)
    checked_cap = _check_cap(f"{where}cap", cap)
    _one_of(f"{where}missing", missing, MISSING_POLICIES)
    if not isinstance(optional, bool):
        raise _invalid(
            N_("%(field)s must be true or false, not %(value)r"),
            field=f"{where}optional",
            value=optional,
        )
    return indicator, number, direction, normalisation, checked_cap, missing, optional


@dataclass(frozen=True)
class IndicatorRule:
    """How one indicator counts in a score.

    Parameters
    ----------
    indicator : str
        Indicator id, a column of the indicator table (``dist_m__puskesmas``).
    weight : float
        Relative weight, greater than 0. Weights are shares of the total: ``2`` counts twice
        as much as ``1``, whatever the other weights are.
    direction : {"need", "better"}
        ``"need"``: a higher value means more need (distance, needs per 1,000 people);
        ``"better"``: a higher value means less need (facilities per 1,000 people).
    normalisation : {"minmax", "zscore", "rank"}
        How values are put on 0-1 (1 = most need): ``"minmax"`` scales between the lowest and
        highest value; ``"zscore"`` maps standard scores from -3..3 onto 0..1 (clipped);
        ``"rank"`` is the percentile rank (ties share their mean rank).
    cap : (float or None, float or None), optional
        Lower and upper limits, in the indicator's unit, applied to raw values before
        normalising (e.g. ``(None, 20000)`` so one remote island does not squash every other
        distance). ``None`` leaves that side open.
    missing : {"exclude", "median", "worst"}
        A village without a value: ``"exclude"`` drops the indicator for that village and
        shares its weight among the others it has; ``"median"`` uses the median of the
        villages that have a value; ``"worst"`` uses the value of highest need observed.
    optional : bool
        When True, a table without this indicator scores without the rule (and says so);
        when False such a table is refused.
    """

    indicator: str
    weight: float = 1.0
    direction: Direction = "need"
    normalisation: Normalisation = "minmax"
    cap: Cap | None = None
    missing: MissingPolicy = "exclude"
    optional: bool = False

    def __post_init__(self) -> None:
        checked = _check_rule_fields(
            "",
            self.indicator,
            self.weight,
            self.direction,
            self.normalisation,
            self.cap,
            self.missing,
            self.optional,
        )
        object.__setattr__(self, "weight", checked[1])
        object.__setattr__(self, "cap", checked[4])

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-safe data (the ``rules`` items of :meth:`ScoringProfile.to_dict`)."""
        return {
            "indicator": self.indicator,
            "weight": self.weight,
            "direction": self.direction,
            "normalisation": self.normalisation,
            "cap": None if self.cap is None else list(self.cap),
            "missing": self.missing,
            "optional": self.optional,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> IndicatorRule:
        """Read a rule from :meth:`to_dict` data, naming the field that is wrong.

        Parameters
        ----------
        data : mapping
            ``indicator`` and ``weight`` are required; the other keys take their defaults.
        where : str
            Prefix of the field names in errors (``"rules[2]."``).
        """
        _check_keys(where.rstrip(".") or "rule", data, _RULE_KEYS, _RULE_REQUIRED, where)
        values = {key: data.get(key, _RULE_DEFAULTS[key]) for key in _RULE_KEYS}
        checked = _check_rule_fields(where, *(values[key] for key in _RULE_KEYS))
        return cls(*checked)  # type: ignore[arg-type]


_RULE_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(IndicatorRule) if f.name != "indicator"
} | {"indicator": None}


def _check_keys(
    field_name: str,
    data: Any,
    allowed: tuple[str, ...],
    required: tuple[str, ...],
    where: str = "",
) -> None:
    if not isinstance(data, Mapping):
        raise _invalid(
            N_("%(field)s must be an object with named fields, not %(value)r"),
            field=field_name,
            value=data,
        )
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise _invalid(
            N_("%(field)s has unknown fields %(unknown)s; allowed: %(allowed)s"),
            field=field_name,
            unknown=", ".join(unknown),
            allowed=", ".join(allowed),
        )
    for key in required:
        if key not in data:
            raise _invalid(N_("%(field)s is required"), field=f"{where}{key}")


@dataclass(kw_only=True)
class ScoringProfile:
    """A named recipe for the underserved score: rules, classes and how classes are cut.

    Parameters
    ----------
    name : str
        Machine name: 1 to 64 lowercase letters, digits, ``-`` or ``_``.
    title : str
        Title shown to users (built-in titles are English templates translated on display).
    description : str
        What the profile is for and what it leaves out.
    rules : sequence of IndicatorRule
        At least one rule; each indicator at most once.
    classes : int
        Number of need classes, 2 to 7 (class ``classes`` is the highest need).
    classification : {"quantiles", "natural_breaks", "equal_interval"}
        How class breaks are found among the villages' scores.
    """

    name: str
    title: str
    description: str = ""
    rules: tuple[IndicatorRule, ...] = field(default_factory=tuple)
    classes: int = 5
    classification: ClassificationMethod = "quantiles"

    def __post_init__(self) -> None:
        self.rules = tuple(self.rules) if isinstance(self.rules, list | tuple) else self.rules
        self.check()

    def check(self) -> ScoringProfile:
        """Check every field (profiles are editable); return self or raise InputError."""
        _check_name("name", self.name)
        _text("title", self.title)
        _text("description", self.description)
        if not isinstance(self.rules, tuple) or not self.rules:
            raise _invalid(
                N_("%(field)s must list at least one indicator rule, not %(value)r"),
                field="rules",
                value=self.rules,
            )
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if not isinstance(rule, IndicatorRule):
                raise _invalid(
                    N_("%(field)s must be an indicator rule, not %(value)r"),
                    field=f"rules[{i}]",
                    value=rule,
                )
            if rule.indicator in seen:
                raise _invalid(
                    N_("%(field)s: indicator %(value)s has a rule already"),
                    field=f"rules[{i}].indicator",
                    value=rule.indicator,
                )
            seen.add(rule.indicator)
        _check_classes("classes", self.classes)
        _one_of("classification", self.classification, CLASSIFICATIONS)
        return self

    @property
    def indicators(self) -> tuple[str, ...]:
        """The indicator ids of the rules, in rule order."""
        return tuple(rule.indicator for rule in self.rules)

    @property
    def total_weight(self) -> float:
        """Sum of the rules' weights."""
        return float(sum(rule.weight for rule in self.rules))

    def validate(self, available_indicators: Iterable[str]) -> tuple[IndicatorRule, ...]:
        """Check the profile against the indicators a table has; return the usable rules.

        Parameters
        ----------
        available_indicators : iterable of str
            Indicator ids present (the columns of the indicator table).

        Returns
        -------
        tuple of IndicatorRule
            The rules whose indicator is available, in profile order (optional rules whose
            indicator is absent are left out).

        Raises
        ------
        InputError
            When a required indicator is absent, or no rule's indicator is available; the
            message lists what is missing and what the table has.
        """
        self.check()
        if isinstance(available_indicators, str):
            raise ValueError("available_indicators must be a collection of ids, not one text")
        available = {str(a) for a in available_indicators}
        missing = [
            r.indicator for r in self.rules if not r.optional and r.indicator not in available
        ]
        listed = sorted(available)
        shown = ", ".join(listed[:_SHOWN]) + (", ..." if len(listed) > _SHOWN else "")
        if missing:
            raise _invalid(
                N_(
                    "profile %(profile)s needs indicators the table does not have: %(missing)s; "
                    "the table has %(count)s: %(available)s"
                ),
                profile=self.name,
                missing=", ".join(missing),
                count=len(listed),
                available=shown,
            )
        usable = tuple(r for r in self.rules if r.indicator in available)
        if not usable:
            raise _invalid(
                N_(
                    "none of the indicators of profile %(profile)s is in the table "
                    "(%(wanted)s); the table has %(count)s: %(available)s"
                ),
                profile=self.name,
                wanted=", ".join(self.indicators),
                count=len(listed),
                available=shown,
            )
        return usable

    def copy(self, *, name: str, **changes: Any) -> ScoringProfile:
        """A new profile called ``name`` with ``changes`` (any other field) applied and checked.

        Parameters
        ----------
        name : str
            The copy's machine name (a profile is stored and chosen by name, so an edited
            built-in profile gets a name of its own).
        **changes
            ``title``, ``description``, ``rules``, ``classes``, ``classification``.
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"ScoringProfile has no fields {sorted(unknown)}")
        return dataclasses.replace(self, name=name, **changes)

    def with_weights(self, weights: Mapping[str, float]) -> ScoringProfile:
        """The same profile with some rules' weights replaced (``{indicator: weight}``)."""
        unknown = sorted(set(weights) - set(self.indicators))
        if unknown:
            raise _invalid(
                N_("profile %(profile)s has no rule for %(unknown)s; its rules: %(rules)s"),
                profile=self.name,
                unknown=", ".join(unknown),
                rules=", ".join(self.indicators),
            )
        rules = tuple(
            dataclasses.replace(r, weight=weights.get(r.indicator, r.weight)) for r in self.rules
        )
        return dataclasses.replace(self, rules=rules)

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON-safe data with ``format`` and ``version``."""
        return {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "classes": self.classes,
            "classification": self.classification,
            "rules": [rule.to_dict() for rule in self.rules],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ScoringProfile:
        """Read a profile from :meth:`to_dict` data (e.g. parsed JSON), checking every field.

        Raises
        ------
        InputError
            Naming the offending field (``rules[2].weight``), its value and what is allowed.
        """
        _check_keys("profile", data, _PROFILE_KEYS, _PROFILE_REQUIRED)
        if data["format"] != PROFILE_FORMAT:
            raise _invalid(
                N_("%(field)s must be %(expected)r for a scoring profile, not %(value)r"),
                field="format",
                expected=PROFILE_FORMAT,
                value=data["format"],
            )
        version = data.get("version", PROFILE_VERSION)
        number = _number(version)
        if number is None or not number.is_integer() or not 1 <= number <= PROFILE_VERSION:
            raise _invalid(
                N_("%(field)s must be a whole number from %(low)s to %(high)s, not %(value)r"),
                field="version",
                low=1,
                high=PROFILE_VERSION,
                value=version,
            )
        rules_data = data["rules"]
        if not isinstance(rules_data, list | tuple):
            raise _invalid(
                N_("%(field)s must be a list, not %(value)r"), field="rules", value=rules_data
            )
        rules = tuple(
            IndicatorRule.from_dict(item, where=f"rules[{i}].") for i, item in enumerate(rules_data)
        )
        return cls(
            name=_check_name("name", data["name"]),
            title=_text("title", data["title"]),
            description=_text("description", data.get("description", "")),
            rules=rules,
            classes=_check_classes("classes", data.get("classes", 5)),
            classification=_one_of(  # type: ignore[arg-type]
                "classification", data.get("classification", "quantiles"), CLASSIFICATIONS
            ),
        )


# --- built-in profiles -----------------------------------------------------------------
#
# Project defaults for a meeting to adjust (docs/scoring.md gives the reasoning of each
# weight). Distances use percentile ranks because they are skewed (a few remote villages
# would squash a min-max scale); shares of people beyond a standard distance keep their
# spread with min-max; rates per 1,000 people are ranked because small villages give
# extreme rates, and a village without a rate (no population) takes the median rather than
# being pushed up or down. Table rules are optional and named as the demo workspace stores
# PODES 2019 (dataset ``podes2019``, BPS variable names in lower case as the import stores
# them). A village without a PODES value is scored without it (PODES writes 99.9 for "very
# far or unknown", which the indicators leave empty; where it stayed a number, the 50 km cap
# counts it as 50 km).

_KM_CAP = (None, 50.0)  # PODES distances in km


def _health_access() -> ScoringProfile:
    return ScoringProfile(
        name="health_access",
        title=N_("Health access"),
        description=N_(
            "Villages far from basic health services (puskesmas first, then village health "
            "posts and hospitals), with few posyandu for their population, and with many "
            "reported health and nutrition needs."
        ),
        rules=(
            IndicatorRule("share_beyond__puskesmas", 3.0, "need", "minmax", optional=True),
            IndicatorRule("dist_m__puskesmas", 2.0, "need", "rank"),
            IndicatorRule("dist_m__hospital", 1.0, "need", "rank", optional=True),
            IndicatorRule(
                "fac_per_1000__posyandu", 1.0, "better", "rank", missing="median", optional=True
            ),
            IndicatorRule(
                "needs_per_1000__health", 1.5, "need", "rank", missing="median", optional=True
            ),
            IndicatorRule(
                "needs_per_1000__nutrition", 1.0, "need", "rank", missing="median", optional=True
            ),
            IndicatorRule("podes2019__r502ek3", 0.5, "need", "rank", _KM_CAP, optional=True),
            IndicatorRule("podes2019__r502jk3", 0.5, "need", "rank", _KM_CAP, optional=True),
        ),
    )


def _water_sanitation() -> ScoringProfile:
    return ScoringProfile(
        name="water_sanitation",
        title=N_("Water and sanitation"),
        description=N_(
            "Villages with many reported water and sanitation needs for their population, "
            "far from a water point, or where most families have no toilet of their own."
        ),
        rules=(
            IndicatorRule(
                "needs_per_1000__water", 2.0, "need", "rank", missing="median", optional=True
            ),
            IndicatorRule(
                "needs_per_1000__sanitation", 2.0, "need", "rank", missing="median", optional=True
            ),
            IndicatorRule("share_beyond__water_point", 2.0, "need", "minmax", optional=True),
            IndicatorRule("dist_m__water_point", 1.0, "need", "rank", optional=True),
            IndicatorRule("podes2019__r405a", 1.5, "need", "minmax", optional=True),
        ),
    )


def _education() -> ScoringProfile:
    return ScoringProfile(
        name="education",
        title=N_("Education access"),
        description=N_(
            "Villages far from primary and junior secondary schools and early childhood "
            "education, with few primary schools for their population, and with many "
            "reported education needs."
        ),
        rules=(
            IndicatorRule("share_beyond__sd", 2.0, "need", "minmax", optional=True),
            IndicatorRule("dist_m__smp", 2.0, "need", "rank", optional=True),
            IndicatorRule("dist_m__sd", 1.0, "need", "rank", optional=True),
            IndicatorRule("dist_m__paud", 1.0, "need", "rank", optional=True),
            IndicatorRule(
                "fac_per_1000__sd", 1.0, "better", "rank", missing="median", optional=True
            ),
            IndicatorRule(
                "needs_per_1000__education", 1.5, "need", "rank", missing="median", optional=True
            ),
            IndicatorRule("podes2019__r501ek4", 1.0, "need", "rank", _KM_CAP, optional=True),
        ),
    )


_BUILTINS = {
    "health_access": _health_access,
    "water_sanitation": _water_sanitation,
    "education": _education,
}


def builtin_profiles() -> dict[str, ScoringProfile]:
    """The built-in default profiles by name (fresh objects: editing one changes no other).

    Returns
    -------
    dict of str to ScoringProfile
        ``health_access``, ``water_sanitation`` and ``education``.
    """
    return {name: make() for name, make in _BUILTINS.items()}


def get_builtin(name: str) -> ScoringProfile:
    """The built-in profile called ``name`` (a fresh object).

    Raises
    ------
    InputError
        When there is no built-in profile of that name; the message lists the names.
    """
    if name not in _BUILTINS:
        raise _invalid(
            N_("no built-in scoring profile %(value)r; built-in profiles: %(allowed)s"),
            value=name,
            allowed=", ".join(_BUILTINS),
        )
    return _BUILTINS[name]()
