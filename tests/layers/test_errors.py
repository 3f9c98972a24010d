"""Errors carry an English template and its parameters, and render in the user's language."""

from __future__ import annotations

import ast
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from layers.errors import N_, InputError, JangkauError, NotFoundError, StoreError
from layers.storage import open_store
from layers.validate import import_layer
from tests.conftest import REPO

CATALOGUES = REPO / "geoapp" / "translations"
ERROR_CLASSES = {"InputError", "StoreError", "NotFoundError"}


def po_gettext(lang: str) -> Callable[[str], str]:
    """A gettext over the ``.po`` catalogue itself (no compiled ``.mo`` needed)."""
    with (CATALOGUES / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = read_po(f, locale=lang)
    strings = {m.id: m.string for m in catalogue if m.id and m.string}
    return lambda text: strings.get(text, text)


@pytest.fixture(scope="module")
def indonesian() -> Callable[[str], str]:
    return po_gettext("id")


def test_str_is_the_english_message_after_file_row_and_column():
    exc = InputError(
        N_("%(value)r is not one of: %(allowed)s"),
        file="needs.csv",
        row=4,
        column="urgensi",
        params={"value": "9", "allowed": "1, 2, 3"},
    )
    assert str(exc) == "needs.csv, row 4, column 'urgensi': '9' is not one of: 1, 2, 3"
    assert exc.message == "'9' is not one of: 1, 2, 3"
    assert exc.template == "%(value)r is not one of: %(allowed)s"
    assert exc.params == {"value": "9", "allowed": "1, 2, 3"}
    assert exc.args == (str(exc),)
    assert exc.render() == str(exc)


def test_plain_message_without_parameters_is_not_formatted():
    exc = StoreError("100% of the disk is used; free some space")
    assert str(exc) == "100% of the disk is used; free some space"
    assert exc.render(lambda text: text.upper()) == "100% OF THE DISK IS USED; FREE SOME SPACE"
    assert str(InputError("bad", row=0)) == "row 0: bad"


def test_render_translates_the_template_and_the_where_prefix(indonesian):
    exc = InputError(
        N_("the file has no rows"), file="laporan.csv", row=7, column="kode", params={}
    )
    assert (
        exc.render(indonesian) == "laporan.csv, baris 7, kolom 'kode': berkas tidak memiliki baris"
    )
    assert str(exc) == "laporan.csv, row 7, column 'kode': the file has no rows"


def test_a_translation_that_does_not_fit_its_parameters_falls_back_to_english():
    exc = InputError(
        N_("band %(band)s holds %(dtype)s, not numbers"), params={"band": 2, "dtype": "x"}
    )
    broken = {exc.template: "band %(nomor)s"}.get
    assert exc.render(lambda t: broken(t, t)) == "band 2 holds x, not numbers"


def test_errors_survive_pickling_with_their_template():
    exc = NotFoundError(N_("no workspace %(workspace)r; workspaces: %(known)s"),
                        params={"workspace": "x", "known": "a, b"})  # fmt: skip
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is NotFoundError
    assert isinstance(copy, LookupError)
    assert copy.template == exc.template
    assert copy.params == exc.params
    assert str(copy) == "no workspace 'x'; workspaces: a, b"


def test_missing_required_column_in_indonesian(tmp_path: Path, indonesian):
    path = tmp_path / "kebutuhan.csv"
    path.write_text("kode_desa,tanggal,urgensi\n15.02.01.2001,2025-02-15,3\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        import_layer(path, "needs")
    exc = info.value
    assert str(exc).startswith(
        "kebutuhan.csv: required column 'category' not found; name it one of"
    )
    assert str(exc).endswith("the file has: kode_desa, tanggal, urgensi")
    rendered = exc.render(indonesian)
    assert rendered.startswith("kebutuhan.csv: kolom wajib 'category' tidak ditemukan")
    assert "bidang" in rendered
    assert rendered.endswith("kolom di berkas: kode_desa, tanggal, urgensi")


def test_empty_file_in_indonesian(tmp_path: Path, indonesian):
    path = tmp_path / "kosong.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError) as info:
        import_layer(path, "needs")
    assert str(info.value) == "kosong.csv: the file is empty (0 bytes)"
    assert info.value.render(indonesian) == "kosong.csv: berkas kosong (0 byte)"


def test_badly_quoted_row_names_its_line_in_indonesian(tmp_path: Path, indonesian):
    path = tmp_path / "rusak.csv"
    path.write_text("kode,bidang,urgensi\n15.02.01.2001,air,3\n15.02.01.2002,gizi,4,x,y\n")
    with pytest.raises(InputError) as info:
        import_layer(path, "needs")
    assert str(info.value).startswith("rusak.csv, row 3: this row has 5 fields")
    assert info.value.render(indonesian).startswith(
        "rusak.csv, baris 3: baris ini memiliki 5 kolom"
    )


def test_unknown_workspace_in_indonesian(tmp_path: Path, indonesian):
    store = open_store(f"sqlite:///{tmp_path / 'jangkau.sqlite'}")
    store.init()
    with pytest.raises(NotFoundError) as none_yet:
        store.get_workspace("jambi")
    assert str(none_yet.value) == "no workspace 'jambi'; workspaces: none yet"
    assert none_yet.value.render(indonesian) == (
        "tidak ada ruang kerja 'jambi'; belum ada ruang kerja"
    )
    store.create_workspace("merangin")
    store.create_workspace("kerinci")
    with pytest.raises(NotFoundError) as info:
        store.get_workspace("jambi")
    assert str(info.value) == "no workspace 'jambi'; workspaces: kerinci, merangin"
    assert info.value.render(indonesian) == (
        "tidak ada ruang kerja 'jambi'; ruang kerja yang ada: kerinci, merangin"
    )
    with pytest.raises(StoreError) as bad_name:
        store.create_workspace("Ruang Kerja")
    assert bad_name.value.render(indonesian).startswith("nama ruang kerja 'Ruang Kerja' tidak sah")
    store.close()


def _error_calls() -> list[tuple[str, int, ast.expr | None]]:
    calls = []
    for path in sorted((REPO / "layers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ERROR_CLASSES
            ):
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                calls.append((where, node, node.args[0] if node.args else None))
    return calls


def _marked(node: ast.expr | None, names: set[str]) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "N_" and isinstance(node.args[0], ast.Constant)
    if isinstance(node, ast.IfExp):
        return _marked(node.body, names) and _marked(node.orelse, names)
    return isinstance(node, ast.Name) and node.id in names


def test_every_error_the_core_raises_has_a_marked_template():
    calls = _error_calls()
    assert len(calls) > 80
    # Names a template is first chosen into (``template = N_(...) if ... else N_(...)``).
    unmarked = [where for where, _node, first in calls if not _marked(first, {"template"})]
    assert unmarked == []


def test_every_error_template_is_translated_to_indonesian(indonesian):
    templates = set()
    for path in sorted((REPO / "layers").rglob("*.py")):
        if path.name in ("report.py", "demo.py", "demo_load.py"):  # findings and demo labels
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_":
                templates.add(node.args[0].value)
    assert len(templates) > 90
    # Names of Indonesian institutions and units are the same in both languages, yet translated.
    same = {"PAUD", "posyandu", "puskesmas", "poskesdes", "pustu", "m", "km", "manual"}
    same |= {"Kecamatan", "Program", "Status"}  # the same word in Indonesian
    untranslated = sorted(t for t in templates - same if indonesian(t) == t)
    assert untranslated == []
    from babel.messages.pofile import read_po

    po = REPO / "geoapp" / "translations" / "id" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalogue = read_po(f)
    assert all(catalogue.get(t) is not None and catalogue.get(t).string == t for t in same)


def test_base_class_is_shared():
    assert issubclass(InputError, JangkauError)
    assert issubclass(InputError, ValueError)
    assert issubclass(NotFoundError, StoreError)
