"""Scoring profiles: rules checked field by field, JSON round trips, built-in defaults."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from layers.errors import InputError
from layers.profiles import (
    PROFILE_FORMAT,
    IndicatorRule,
    ScoringProfile,
    builtin_profiles,
    get_builtin,
)
from layers.schema import FACILITY_TYPES, NEED_CATEGORIES
from layers.scoring import Score
from tests.conftest import REPO


def profile_data(**changes: Any) -> dict[str, Any]:
    """A valid profile as JSON data, with top-level ``changes``."""
    data = {
        "format": PROFILE_FORMAT,
        "version": 1,
        "name": "akses_kesehatan",
        "title": "Akses kesehatan",
        "description": "",
        "classes": 5,
        "classification": "quantiles",
        "rules": [
            {"indicator": "dist_m__puskesmas", "weight": 2},
            {
                "indicator": "fac_per_1000__posyandu",
                "weight": 1.5,
                "direction": "better",
                "normalisation": "rank",
                "cap": [None, 5],
                "missing": "median",
                "optional": True,
            },
        ],
    }
    data.update(changes)
    return data


def with_rule(index: int, **changes: Any) -> dict[str, Any]:
    data = profile_data()
    data["rules"][index] = {**data["rules"][index], **changes}
    return data


def test_rule_defaults_and_checked_values():
    rule = IndicatorRule("dist_m__puskesmas", 2)
    assert rule == IndicatorRule("dist_m__puskesmas", 2.0, "need", "minmax", None, "exclude")
    assert isinstance(rule.weight, float)
    assert IndicatorRule("x", cap=[None, 20000]).cap == (None, 20000.0)
    assert IndicatorRule("x", cap=(None, None)).cap is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weight": 0}, "weight"),
        ({"weight": -1.5}, "weight"),
        ({"weight": float("nan")}, "weight"),
        ({"weight": True}, "weight"),
        ({"weight": "2"}, "weight"),
        ({"direction": "higher"}, "direction"),
        ({"normalisation": "log"}, "normalisation"),
        ({"cap": (10, 1)}, "cap"),
        ({"cap": (1, 2, 3)}, "cap"),
        ({"cap": ("a", None)}, "cap"),
        ({"missing": "zero"}, "missing"),
        ({"optional": "yes"}, "optional"),
        ({"indicator": "jarak ke puskesmas"}, "indicator"),
        ({"indicator": ""}, "indicator"),
    ],
)
def test_a_bad_rule_field_is_named(changes: dict[str, Any], field: str):
    fields = {"indicator": "dist_m__puskesmas", "weight": 1.0} | changes
    with pytest.raises(InputError) as info:
        IndicatorRule(**fields)
    assert info.value.params["field"] == field
    assert str(info.value).startswith(f"{field} must be")


def test_profile_round_trips_through_json():
    profile = ScoringProfile.from_dict(profile_data())
    assert profile.rules[1].cap == (None, 5.0)
    assert profile.indicators == ("dist_m__puskesmas", "fac_per_1000__posyandu")
    assert profile.total_weight == pytest.approx(3.5)
    data = json.loads(json.dumps(profile.to_dict()))
    assert data["format"] == PROFILE_FORMAT
    assert data["version"] == 1
    assert data["rules"][1] == {
        "indicator": "fac_per_1000__posyandu",
        "weight": 1.5,
        "direction": "better",
        "normalisation": "rank",
        "cap": [None, 5.0],
        "missing": "median",
        "optional": True,
    }
    assert ScoringProfile.from_dict(data) == profile


def test_from_dict_fills_defaults_of_optional_keys():
    data = profile_data()
    for key in ("description", "classes", "classification", "version"):
        del data[key]
    data["rules"] = [{"indicator": "needs_per_1000__health", "weight": 1}]
    profile = ScoringProfile.from_dict(data)
    assert (profile.description, profile.classes, profile.classification) == ("", 5, "quantiles")
    assert profile.rules == (IndicatorRule("needs_per_1000__health", 1.0),)


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (with_rule(1, weight=0), "rules[1].weight", "greater than 0"),
        (with_rule(0, direction="up"), "rules[0].direction", "need, better"),
        (with_rule(1, normalisation="log"), "rules[1].normalisation", "minmax, zscore, rank"),
        (with_rule(1, cap=[5, 1]), "rules[1].cap", "lower <= upper"),
        (with_rule(1, missing="zero"), "rules[1].missing", "exclude, median, worst"),
        (with_rule(1, optional="yes"), "rules[1].optional", "true or false"),
        (with_rule(0, wieght=2), "rules[0]", "unknown fields wieght"),
        (profile_data(rules=[{"weight": 1}]), "rules[0].indicator", "is required"),
        (profile_data(rules=[3]), "rules[0]", "object with named fields"),
        (profile_data(rules="dist_m__puskesmas"), "rules", "must be a list"),
        (profile_data(rules=[]), "rules", "at least one"),
        (
            profile_data(rules=[{"indicator": "a", "weight": 1}, {"indicator": "a", "weight": 2}]),
            "rules[1].indicator",
            "has a rule already",
        ),
        (profile_data(name="Akses Kesehatan"), "name", "lowercase letters"),
        (profile_data(title=None), "title", "must be text"),
        (profile_data(classes=9), "classes", "from 2 to 7"),
        (profile_data(classes=2.5), "classes", "whole number"),
        (profile_data(classification="jenks"), "classification", "natural_breaks"),
        (profile_data(format="geojson"), "format", PROFILE_FORMAT),
        (profile_data(version=2), "version", "from 1 to 1"),
        (profile_data(colour="red"), "profile", "unknown fields colour"),
    ],
)
def test_from_dict_names_the_offending_field(data: dict[str, Any], field: str, fragment: str):
    with pytest.raises(InputError) as info:
        ScoringProfile.from_dict(data)
    assert info.value.params["field"] == field
    assert fragment in str(info.value)


def test_from_dict_requires_the_format_and_a_mapping():
    data = profile_data()
    del data["format"]
    with pytest.raises(InputError, match="format is required"):
        ScoringProfile.from_dict(data)
    with pytest.raises(InputError, match="profile must be an object"):
        ScoringProfile.from_dict(["name", "rules"])


def test_validate_lists_what_is_missing_and_what_there_is():
    profile = ScoringProfile.from_dict(profile_data())
    usable = profile.validate(["dist_m__puskesmas", "population"])
    assert usable == (profile.rules[0],)  # the optional posyandu rule is left out
    assert profile.validate(["fac_per_1000__posyandu", "dist_m__puskesmas"]) == profile.rules
    with pytest.raises(InputError) as info:
        profile.validate(["population", "needs_open"])
    assert str(info.value) == (
        "profile akses_kesehatan needs indicators the table does not have: dist_m__puskesmas; "
        "the table has 2: needs_open, population"
    )
    only_optional = profile.copy(name="opsional", rules=(profile.rules[1],))
    with pytest.raises(InputError, match="none of the indicators of profile opsional"):
        only_optional.validate(["population"])
    with pytest.raises(ValueError, match="collection of ids"):
        profile.validate("dist_m__puskesmas")


def test_copy_makes_a_new_checked_profile_and_leaves_the_original():
    original = get_builtin("health_access")
    edited = original.copy(name="kesehatan_merangin", classes=4, title="Kesehatan Merangin")
    assert (edited.name, edited.classes, edited.title) == (
        "kesehatan_merangin",
        4,
        "Kesehatan Merangin",
    )
    assert edited.rules == original.rules
    assert (original.name, original.classes) == ("health_access", 5)
    with pytest.raises(InputError, match="lowercase letters"):
        original.copy(name="Kesehatan Merangin")
    with pytest.raises(InputError, match="from 2 to 7"):
        original.copy(name="x", classes=1)
    with pytest.raises(ValueError, match="no fields"):
        original.copy(name="x", colour="red")


def test_with_weights_replaces_only_the_named_weights():
    profile = ScoringProfile.from_dict(profile_data())
    reweighted = profile.with_weights({"fac_per_1000__posyandu": 4})
    assert [r.weight for r in reweighted.rules] == [2.0, 4.0]
    assert [r.weight for r in profile.rules] == [2.0, 1.5]
    with pytest.raises(InputError, match="has no rule for population"):
        profile.with_weights({"population": 1})
    with pytest.raises(InputError, match="greater than 0"):
        profile.with_weights({"dist_m__puskesmas": 0})


def test_an_edited_profile_is_checked_again_when_validated():
    profile = ScoringProfile.from_dict(profile_data())
    profile.classification = "jenks"  # type: ignore[assignment]
    with pytest.raises(InputError, match="classification must be one of"):
        profile.validate(["dist_m__puskesmas"])


# --- built-in profiles -----------------------------------------------------------------

FACILITY_GROUPS = ("fac_count", "fac_per_1000", "dist_m", "share_beyond")
NEEDS_GROUPS = ("needs", "needs_weighted", "needs_per_1000")
DEMO_PODES = "data/boundaries/merangin/podes_merangin.csv"


def contract_id(indicator: str) -> bool:
    """Whether an id is one the indicators module makes (docs/indicators.md naming)."""
    group, _, detail = indicator.partition("__")
    if group in FACILITY_GROUPS:
        return detail in FACILITY_TYPES
    if group in NEEDS_GROUPS:
        return detail in (*NEED_CATEGORIES, "all")
    return indicator in ("population", "population_raster", "needs_open", "needs_addressed")


def test_builtin_profiles_use_indicator_ids_of_the_contract():
    # The import stores column names in lower case (R502EK3 -> r502ek3).
    podes_columns = {c.lower() for c in pd.read_csv(REPO / DEMO_PODES, nrows=0).columns}
    profiles = builtin_profiles()
    assert list(profiles) == ["health_access", "water_sanitation", "education"]
    for name, profile in profiles.items():
        assert profile.name == name
        assert profile.to_dict() == ScoringProfile.from_dict(profile.to_dict()).to_dict()
        for rule in profile.rules:
            if rule.indicator.startswith("podes2019__"):
                # Table rules name a column of the demo PODES file, and are optional.
                assert rule.indicator.removeprefix("podes2019__") in podes_columns
                assert rule.optional
            else:
                assert contract_id(rule.indicator), rule.indicator
        assert any(not r.indicator.startswith("podes2019__") for r in profile.rules)


def test_health_access_needs_distance_to_a_puskesmas():
    profile = get_builtin("health_access")
    required = [r.indicator for r in profile.rules if not r.optional]
    assert required == ["dist_m__puskesmas"]
    with pytest.raises(InputError, match="needs indicators the table does not have"):
        profile.validate(["needs_per_1000__health"])


def test_get_builtin_returns_fresh_objects_and_names_the_choices():
    first = get_builtin("education")
    first.classes = 3
    assert get_builtin("education").classes == 5
    with pytest.raises(InputError) as info:
        get_builtin("kesehatan")
    assert str(info.value) == (
        "no built-in scoring profile 'kesehatan'; built-in profiles: "
        "health_access, water_sanitation, education"
    )


def test_health_access_scores_a_table_with_only_the_puskesmas_distance():
    kodes = ["15.02.01.2001", "15.02.01.2002", "15.02.01.2003", "15.02.01.2004"]
    table = pd.DataFrame(
        {"dist_m__puskesmas": [500.0, 12000.0, 3000.0, np.nan], "population": 1000.0},
        index=pd.Index(kodes, name="kode"),
    )
    score = Score(table, get_builtin("health_access")).run()
    # Percentile ranks of 500, 12000, 3000 among themselves: 0, 1, 0.5; the missing one is
    # excluded (the rule's policy), so that village has no score.
    assert score.scores["score"].iloc[:3].tolist() == pytest.approx([0.0, 100.0, 50.0])
    assert np.isnan(score.scores["score"].iloc[3])
    # Its score rests on 2 of the profile's 10.5 weight points.
    assert score.scores["weight_used"].iloc[0] == pytest.approx(2.0 / 10.5)
    absent = [n.params["indicator"] for n in score.notes if n.code == "rule_absent"]
    assert absent == [
        "share_beyond__puskesmas",
        "dist_m__hospital",
        "fac_per_1000__posyandu",
        "needs_per_1000__health",
        "needs_per_1000__nutrition",
        "podes2019__r502ek3",
        "podes2019__r502jk3",
    ]


@pytest.mark.parametrize("name", ["health_access", "water_sanitation", "education"])
def test_builtin_titles_and_descriptions_are_plain_templates(name: str):
    profile = get_builtin(name)
    assert profile.title
    assert profile.description
    assert not re.search(r"%\(\w+\)s", profile.title + profile.description)


def test_a_long_table_is_listed_in_part():
    profile = get_builtin("health_access")
    census = [f"podes2019__r{i:03d}" for i in range(300)]
    with pytest.raises(InputError) as info:
        profile.validate(census)
    message = str(info.value)
    assert "the table has 300: podes2019__r000, podes2019__r001," in message
    assert message.endswith("podes2019__r039, ...")
