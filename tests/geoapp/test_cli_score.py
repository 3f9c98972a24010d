"""``geoapp score`` and ``geoapp profiles`` through click's runner, on a five-village store.

The workspace is the one of ``tests/layers/test_score_run.py`` (villages Satu..Lima near
102.5 E, 2.0 S, two puskesmas, health needs). Under the two-rule profile saved as
``musrenbang`` (distance to a puskesmas weight 2, health needs per 1,000 people weight 1,
both min-max), as of 2025-06-30, by hand:

* Tiga: farthest from a puskesmas (3,935 m: 3.9 km), 2.00 needs per 1,000; score
  100 * (2 * 1 + 1 * (2.0 - 0.5) / 3.5) / 3 = 80.95: distance 66.7 points, needs 14.3;
* Dua: 2,226 m (2.2 km), 3.50 per 1,000; 100 * (2 * 2226.2 / 3934.9 + 3.0 / 3.5) / 3 =
  66.29: distance 37.7, needs 28.6;
* Satu: a puskesmas at its centre (0.0 km), the most needs (4.00 per 1,000): 33.33, all
  from needs;
* then Empat (29.80) and Lima (27.58).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from geoapp.cli import main
from layers.profiles import get_builtin
from layers.score_run import PROFILES, RUNS, load_profile, save_profile
from layers.storage import DATASET_KINDS
from tests.layers.test_score_run import KODES, WS, build_workspace, musrenbang_profile

AS_OF = "2025-06-30"


@pytest.fixture
def workspace(tmp_path):
    """The store (with no saved profile yet) and the refs of its datasets."""
    folder = tmp_path / "data"
    folder.mkdir()
    store, refs = build_workspace(folder)
    yield store, refs
    store.close()


@pytest.fixture
def run(tmp_path, workspace):
    """Run the command line in-process against the workspace's store; returns click's Result."""
    env = {
        "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance"),
        "GEOAPP_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'store.sqlite'}",
        "GEOAPP_LOCALE": "en",
        "LC_ALL": "",
        "LANG": "C.UTF-8",
    }

    def invoke(*args: str, lang: str | None = None):
        argv = (["--lang", lang] if lang else []) + [str(a) for a in args]
        return CliRunner().invoke(main, argv, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def saved(workspace):
    """The workspace with the two-rule profile saved as ``musrenbang``."""
    store, refs = workspace
    save_profile(store, WS, musrenbang_profile(), user="ani", note="musrenbang kecamatan 2025")
    return store, refs


def table_rows(output: str) -> list[str]:
    """The rows of the printed table (the lines after the dashes under the header)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("----"))
    return [line for line in lines[start + 1 :] if line.strip()]


# --- geoapp score ------------------------------------------------------------------------


def test_score_prints_the_top_villages_in_order_with_reasons(run, saved):
    store, _refs = saved
    result = run("score", "-w", WS, "-p", "musrenbang", "--top", "3", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.startswith(
        f"Profile musrenbang ({WS}/profiles/musrenbang@1), as of 2025-06-30: "
        "5 of 5 villages scored.\n"
    )
    assert f"Saved as run {WS}/score_runs/musrenbang@1." in result.output
    rows = table_rows(result.output)
    assert len(rows) == 3
    assert [row.split()[:3] for row in rows] == [
        ["1", KODES[2], "Tiga"],
        ["2", KODES[1], "Dua"],
        ["3", KODES[0], "Satu"],
    ]
    assert " 81.0 " in rows[0]
    assert "Very high need" in rows[0]
    assert rows[0].endswith(
        "Distance to the nearest puskesmas: 3.9 km (+66.7); "
        "Severity-weighted needs per 1,000 people: health: 2.00 (+14.3)"
    )
    assert " 66.3 " in rows[1]
    assert rows[1].endswith(
        "Distance to the nearest puskesmas: 2.2 km (+37.7); "
        "Severity-weighted needs per 1,000 people: health: 3.50 (+28.6)"
    )
    assert " 33.3 " in rows[2]
    assert rows[2].endswith(
        "Severity-weighted needs per 1,000 people: health: 4.00 (+33.3); "
        "Distance to the nearest puskesmas: 0.0 km (+0.0)"
    )
    assert "Empat" not in result.output
    record = store.get_record(WS, RUNS, "musrenbang")
    assert record.version == 1
    assert record.body["settings"]["as_of"] == AS_OF


def test_score_json_has_the_run_reference_and_the_top_list(run, saved):
    _store, refs = saved
    result = run("score", "-w", WS, "-p", "musrenbang", "--top", "2", "--as-of", AS_OF, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    body = json.loads(result.output)
    assert body["run"] == f"{WS}/score_runs/musrenbang@1"
    assert body["table"] == f"{WS}/score-musrenbang@1"
    assert body["inputs"] == refs
    assert body["profile_ref"] == f"{WS}/profiles/musrenbang@1"
    assert body["settings"]["as_of"] == AS_OF
    assert [t["kode"] for t in body["top"]] == [KODES[2], KODES[1]]
    assert [t["name"] for t in body["top"]] == ["Tiga", "Dua"]
    assert [t["rank"] for t in body["top"]] == [1, 2]
    first = body["top"][0]
    assert first["score"] == pytest.approx(100 * (2 + 1.5 / 3.5) / 3, abs=1e-9)
    assert first["need_class"] == 5
    assert first["class"] == "Very high need"
    assert first["kecamatan"] == "Bangko"
    assert [r["indicator"] for r in first["reasons"]] == [
        "dist_m__puskesmas",
        "needs_per_1000__health",
    ]
    assert first["reasons"][0]["points"] == pytest.approx(200 / 3, abs=1e-9)
    assert first["reasons"][1]["value"] == pytest.approx(2.0)
    assert first["reasons"][1]["points"] == pytest.approx(100 * 1.5 / 3.5 / 3, abs=1e-9)


def test_score_no_save_stores_nothing(run, workspace):
    store, _refs = workspace
    before = store.list_datasets(WS, all_versions=True, kinds=DATASET_KINDS)
    result = run("score", "-w", WS, "-p", "health_access", "--as-of", AS_OF, "--no-save")
    assert result.exit_code == 0, result.output + result.stderr
    assert "Saved as run" not in result.output
    assert "(builtin:health_access)" in result.output
    assert len(table_rows(result.output)) == 5
    assert store.list_records(WS) == []
    assert store.list_datasets(WS, all_versions=True, kinds=DATASET_KINDS) == before
    as_json = run("score", "-w", WS, "-p", "health_access", "--no-save", "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["run"] is None
    assert store.list_records(WS) == []


def test_score_in_indonesian_uses_decimal_commas(run, saved):
    result = run("score", "-w", WS, "-p", "musrenbang", "--top", "3", "--as-of", AS_OF, lang="id")
    assert result.exit_code == 0, result.output + result.stderr
    rows = table_rows(result.output)
    assert [row.split()[1] for row in rows] == [KODES[2], KODES[1], KODES[0]]
    assert " 81,0 " in rows[0]
    assert "3,9 km (+66,7)" in rows[0]
    assert "2,00 (+14,3)" in rows[0]
    assert " 66,3 " in rows[1]
    assert "2,2 km (+37,7)" in rows[1]
    assert " 81.0 " not in result.output
    assert "3.9 km" not in result.output


def test_score_errors_exit_1_with_one_line(run, saved):
    result = run("score", "-w", "nope", "-p", "health_access")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no workspace 'nope'")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run("score", "-w", WS, "-p", "tidak_ada")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no scoring profile called 'tidak_ada'; profiles: ")
    assert "musrenbang" in result.stderr
    result = run("score", "-w", WS, "-p", "musrenbang", "--as-of", "2025-02-30")
    assert result.exit_code == 1
    assert "error: as_of must be a date like 2024-05-31, not '2025-02-30'" in result.stderr
    result = run("score", "-w", WS, "-p", "musrenbang", "--standard", "rumah=500")
    assert result.exit_code == 1
    assert "'rumah' is not a facility type" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_standard_distance_changes_the_share_beyond(run, workspace):
    # The built-in health_access profile on this data uses share_beyond__puskesmas (weight
    # 3, min-max), dist_m__puskesmas (2, rank), fac_per_1000__posyandu (1, rank, better),
    # needs_per_1000__health (1.5, rank) and needs_per_1000__nutrition (1, rank; 0 in every
    # village, so 0.5 each); no hospital, no PODES. Total weight 8.5. For Tiga, by hand:
    # distance rank 4/4 = 1; posyandu per 1,000 is 0 as in two other villages, fewer than
    # Dua (1.0) and Empat (0.25): (2 + 1) / 4 = 0.75; health 2.0 ties Lima above Empat's
    # 0.5: (1 + 0.5) / 4 = 0.375.
    rest = 2 * 1 + 1 * 0.75 + 1.5 * 0.375 + 1 * 0.5
    args = ("score", "-w", WS, "-p", "health_access", "--as-of", AS_OF, "--no-save", "--json")
    default = json.loads(run(*args, "--top", "5").output)
    # Tiga is 3,935 m from a puskesmas: within the default 5,000 m, as every village is, so
    # the share beyond is 0 everywhere and counts as the middle (0.5) for each.
    assert default["settings"]["standards_m"]["puskesmas"] == 5000.0
    assert default["top"][0]["kode"] == KODES[2]
    assert default["top"][0]["score"] == pytest.approx(100 * (3 * 0.5 + rest) / 8.5, abs=1e-9)
    strict = json.loads(run(*args, "--top", "5", "--standard", "puskesmas=3000").output)
    # Beyond a 3,000 m standard only Tiga is: its share is 1, the highest.
    assert strict["settings"]["standards_m"]["puskesmas"] == 3000.0
    assert strict["settings"]["standards_m"]["sd"] == 3000.0  # the other defaults are kept
    assert strict["top"][0]["kode"] == KODES[2]
    assert strict["top"][0]["score"] == pytest.approx(100 * (3 * 1.0 + rest) / 8.5, abs=1e-9)
    reasons = {r["indicator"]: r["value"] for r in strict["top"][0]["reasons"]}
    assert reasons["share_beyond__puskesmas"] == 1.0


@pytest.mark.parametrize(
    "args",
    [("--top", "0"), ("--standard", "puskesmas"), ("--standard", "puskesmas=jauh")],
)
def test_score_usage_errors_exit_64(run, workspace, args):
    result = run("score", "-w", WS, "-p", "health_access", "--no-save", *args)
    assert result.exit_code == 64
    store, _refs = workspace
    assert store.list_records(WS) == []


# --- geoapp profiles ---------------------------------------------------------------------


def test_export_then_import_under_a_new_name_round_trips(run, workspace, tmp_path):
    store, _refs = workspace
    path = tmp_path / "akses.json"
    result = run("profiles", "export", "health_access", "-w", WS, "-o", path)
    assert result.exit_code == 0, result.output + result.stderr
    assert f"Wrote {path}." in result.output
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert exported == get_builtin("health_access").to_dict()

    note = "Bobot disepakati musrenbang desa, 12 Maret 2025"
    result = run(
        "profiles", "import", path, "-w", WS, "--name", "musrenbang_2025", "--user", "ani",
        "--note", note,
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert f"Saved profile {WS}/profiles/musrenbang_2025@1." in result.output
    record = store.get_record(WS, PROFILES, "musrenbang_2025")
    assert record.created_by == "ani"
    assert record.note == note
    profile, ref = load_profile(store, WS, "musrenbang_2025")
    assert ref == f"{WS}/profiles/musrenbang_2025@1"
    assert profile == get_builtin("health_access").copy(name="musrenbang_2025")

    shown = run("profiles", "show", "musrenbang_2025", "-w", WS)
    assert shown.exit_code == 0
    assert json.loads(shown.output) == {**exported, "name": "musrenbang_2025"}
    printed = run("profiles", "export", "musrenbang_2025", "-w", WS)
    assert json.loads(printed.output) == {**exported, "name": "musrenbang_2025"}


def test_import_of_a_broken_json_file_names_the_file_and_line(run, workspace, tmp_path):
    store, _refs = workspace
    path = tmp_path / "rusak.json"
    path.write_text(
        '{\n  "format": "jangkau.scoring-profile",\n  "name": "rusak"\n  "title": "Rusak"\n}\n',
        encoding="utf-8",
    )  # the comma after "rusak" is missing: json stops at line 4
    result = run("profiles", "import", path, "-w", WS)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}, row 4: not a JSON profile: ")
    assert "line 4 column 3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert store.list_records(WS) == []


def test_import_of_an_invalid_profile_names_the_file_and_field(run, workspace, tmp_path):
    store, _refs = workspace
    data = musrenbang_profile().to_dict()
    data["rules"][1]["weight"] = -1
    path = tmp_path / "bobot.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run("profiles", "import", path, "-w", WS)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}: rules[1].weight must be a number greater")
    assert store.list_records(WS) == []


def test_import_with_a_stale_expected_version_is_refused(run, saved, tmp_path):
    store, _refs = saved
    path = tmp_path / "musrenbang.json"
    path.write_text(json.dumps(musrenbang_profile().to_dict()), encoding="utf-8")
    result = run("profiles", "import", path, "-w", WS, "--user", "budi", "--expected-version", "0")
    assert result.exit_code == 1
    assert "already exists: version 1 was saved by ani" in result.stderr
    ok = run("profiles", "import", path, "-w", WS, "--user", "budi", "--expected-version", "1")
    assert ok.exit_code == 0, ok.stderr
    assert f"{WS}/profiles/musrenbang@2" in ok.output
    stale = run("profiles", "import", path, "-w", WS, "--user", "ani", "--expected-version", "1")
    assert stale.exit_code == 1
    assert "version 2 was saved by budi" in stale.stderr
    assert store.get_record(WS, PROFILES, "musrenbang").version == 2


def test_copy_then_list_shows_the_saved_copy_with_user_and_note(run, workspace):
    result = run(
        "profiles", "copy", "health_access", "akses_desa", "-w", WS,
        "--title", "Akses kesehatan desa", "--user", "ani", "--note", "Salinan untuk musrenbang",
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert f"Saved profile {WS}/profiles/akses_desa@1." in result.output
    listed = run("profiles", "list", "-w", WS)
    assert listed.exit_code == 0
    rows = [row.split("  ") for row in table_rows(listed.output)]
    rows = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert rows[0] == [
        "akses_desa",
        "Akses kesehatan desa",
        "saved",
        "1",
        "ani",
        "Salinan untuk musrenbang",
    ]
    assert [row[0] for row in rows] == [
        "akses_desa",
        "health_access",
        "water_sanitation",
        "education",
    ]
    assert rows[1][2] == "built in"
    entries = json.loads(run("profiles", "list", "-w", WS, "--json").output)
    assert entries[0] == {
        "name": "akses_desa",
        "title": "Akses kesehatan desa",
        "source": "saved",
        "version": 1,
        "created_by": "ani",
        "note": "Salinan untuk musrenbang",
    }
    store, _refs = workspace
    copied, _ref = load_profile(store, WS, "akses_desa")
    assert copied.rules == get_builtin("health_access").rules


def test_profiles_of_an_unknown_workspace_exit_1(run, workspace):
    for args in (("list",), ("show", "health_access"), ("copy", "health_access", "baru")):
        result = run("profiles", *args, "-w", "nope")
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: no workspace 'nope'")
    result = run("profiles", "show", "tidak_ada", "-w", WS)
    assert result.exit_code == 1
    assert "health_access" in result.stderr


def test_sensitivity_flags_the_village_whose_place_rests_on_the_weights(run, saved):
    # Normalised (distance, needs): Tiga (1, 3/7), Dua (0.566, 6/7), Satu (0, 1), Empat
    # (0.447, 0), Lima (0.199, 3/7). With weights w1 = 2u (distance) and w2 = v (needs),
    # u and v in 0.8..1.2: Tiga beats Dua when w1/w2 > 0.99 and Dua beats the rest, so
    # both stay 1st and 2nd in every draw. Third is Satu unless w1/w2 > 2.24 (then Empat):
    # P(u/v > 1.12) for uniform u, v is about 0.26. Lima would need w1/w2 > 2.87 to pass
    # Satu but < 1.73 to pass Empat: never. So Satu (in the top 3 in ~74% of the draws,
    # below 90%) and Empat (in it in ~26%, above 10%) are fragile.
    result = run(
        "score", "-w", WS, "-p", "musrenbang", "--top", "3", "--as-of", AS_OF,
        "--sensitivity", "--runs", "500", "--seed", "0", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    body = json.loads(result.output)
    top = body["top"]
    assert [t["kode"] for t in top] == [KODES[2], KODES[1], KODES[0]]
    assert [(t["rank_p05"], t["rank_p95"]) for t in top[:2]] == [(1, 1), (2, 2)]
    assert [t["share_top_n"] for t in top[:2]] == [1.0, 1.0]
    assert [t["fragile"] for t in top] == [False, False, True]
    assert 0.6 < top[2]["share_top_n"] < 0.85
    summary = body["sensitivity"]
    assert summary["runs"] == 500
    assert summary["fragile"] == 2
    assert summary["fragile_in_top_n"] == 1
    assert summary["fragile_outside_top_n"] == 1
    saved_run = saved[0].get_record(WS, RUNS, "musrenbang").body
    assert saved_run["sensitivity"] == summary
    text = run(
        "score", "-w", WS, "-p", "musrenbang", "--top", "3", "--as-of", AS_OF,
        "--sensitivity", "--no-save",
    )  # fmt: skip
    rows = table_rows(text.output)
    assert "(depends on weights)" in rows[2]
    assert "(depends on weights)" not in rows[0] + rows[1]
    assert "500 draws (seed 0): for 2 villages, being in the top 3 depends on the weights." in (
        text.output
    )


# --- geoapp hotspots ---------------------------------------------------------------------


def test_hotspots_of_a_saved_run_classify_every_village(run, saved):
    assert run("score", "-w", WS, "-p", "musrenbang", "--as-of", AS_OF).exit_code == 0
    result = run("hotspots", "-w", WS, "-p", "musrenbang", "--json", "--permutations", "99")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert sorted(r["kode"] for r in rows) == sorted(KODES)
    labels = {"high_cluster", "low_cluster", "high_outlier", "low_outlier", "not_significant"}
    assert {r["label"] for r in rows} <= labels
    scores = json.loads(
        run(
            "score",
            "-w",
            WS,
            "-p",
            "musrenbang",
            "--json",
            "--no-save",
            "--as-of",
            AS_OF,
            "--top",
            "5",
        ).output
    )
    by_code = {t["kode"]: t["score"] for t in scores["top"]}
    for r in rows:
        assert r["value"] == pytest.approx(by_code[r["kode"]])
    table = run("hotspots", "-w", WS, "-p", "musrenbang", "--permutations", "99")
    counts = [int(line.rsplit(None, 1)[1]) for line in table_rows(table.output)[:5]]
    assert sum(counts) == len(KODES)


def test_hotspots_without_a_run_exit_1(run, saved):
    result = run("hotspots", "-w", WS, "-p", "musrenbang")
    assert result.exit_code == 1
    assert result.output.startswith("error:")


# --- geoapp rerun ------------------------------------------------------------------------


def test_rerun_of_a_saved_run_gives_the_same_numbers_and_notices_a_change(run, saved):
    store, _refs = saved
    assert run("score", "-w", WS, "-p", "musrenbang", "--as-of", AS_OF).exit_code == 0
    result = run("rerun", "-w", WS, "-p", "musrenbang")
    assert result.exit_code == 0, result.output
    assert "the same scores and ranks" in result.output
    # Tamper with the saved table: the re-run must notice.
    from layers.score_run import load_run

    body = load_run(store, WS, "musrenbang")
    table = body["table_frame"].copy()
    table.loc[KODES[0], "score"] += 5.0
    name, version = body["table"].split("/", 1)[1].rsplit("@", 1)
    store.put_dataset(
        WS, "derived", table, name=name, source_name="x", source_sha256="0" * 64, report={}
    )
    record = body["record"].body | {"table": f"{WS}/{name}@{int(version) + 1}"}
    store.put_record(WS, RUNS, "musrenbang", record)
    result = run("rerun", "-w", WS, "-p", "musrenbang")
    assert result.exit_code == 2
    assert "differ by up to 5" in result.output
    assert run("rerun", "-w", WS, "-p", "musrenbang", "--run", "9").exit_code == 1
