"""Languages: complete Indonesian catalogue, language choice, the switch on every page."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from geoapp.i18n import TRANSLATIONS_DIR, cli_locale
from tests.conftest import REPO


def extracted_messages() -> dict[str, list[str]]:
    """Every msgid the sources mark for translation (per babel.cfg), with where it is."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, list[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(REPO), method_map, options_map
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(filename)
    return found


def catalogue(lang: str):
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_extraction_finds_templates_views_cli_and_layer_messages():
    found = extracted_messages()
    files = {f for places in found.values() for f in places}
    assert any(f.startswith("geoapp/templates/") for f in files)
    assert "geoapp/cli.py" in files
    assert "geoapp/errors.py" in files
    assert "layers/report.py" in files  # N_ marked finding templates
    from layers.report import MESSAGES

    assert set(MESSAGES.values()) <= set(found)
    assert "Validation report" in found


def test_indonesian_catalogue_is_complete():
    cat = catalogue("id")
    assert not cat.fuzzy
    missing = sorted(set(extracted_messages()) - {m.id for m in cat if m.id})
    assert missing == [], "run pybabel extract/update and translate: " + repr(missing[:10])
    empty = [m.id for m in cat if m.id and not (all(m.string) if m.pluralizable else m.string)]
    assert empty == []
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert fuzzy == []


def test_indonesian_translations_keep_every_placeholder():
    cat = catalogue("id")
    errors = [(m.id, [str(e) for e in errs]) for m, errs in cat.check()]
    assert errors == []
    for m in cat:
        if m.id:
            assert sorted(re.findall(r"%\(\w+\)[sdr]", m.id)) == sorted(
                re.findall(r"%\(\w+\)[sdr]", m.string)
            ), m.id


def test_english_catalogue_lists_every_message():
    cat = catalogue("en")
    assert set(extracted_messages()) <= {m.id for m in cat if m.id}


def test_domain_words_are_translated_as_agreed():
    cat = catalogue("id")
    expected = {
        "Workspace": "Ruang kerja",
        "Layers": "Lapisan",
        "Validation report": "Laporan validasi",
        "Villages (desa/kelurahan)": "Desa/Kelurahan",
        "Facilities": "Fasilitas",
        "Needs": "Kebutuhan",
        "Indicators": "Indikator",
        "accepted": "diterima",
        "repaired": "diperbaiki",
        "rejected": "ditolak",
        "warning": "peringatan",
    }
    for msgid, msgstr in expected.items():
        assert cat[msgid].string == msgstr


def test_workspace_page_in_indonesian(client):
    html = client.get("/workspaces/merangin?lang=id").get_data(as_text=True)
    assert '<html lang="id">' in html
    for text in ("Lapisan", "Laporan validasi", "Desa/Kelurahan", "Fasilitas", "Indikator",
                 "diterima", "diperbaiki", "ditolak", "peringatan", "Berkas sumber",
                 "versi sebelumnya", "Diimpor oleh"):  # fmt: skip
        assert text in html, text
    for english in ("Layers", "Validation report", "Source file", "earlier versions"):
        assert english not in html, english


def test_workspace_page_in_english(client):
    html = client.get("/workspaces/merangin?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Layers" in html
    assert "Lapisan" not in html


def test_default_language_is_indonesian(client):
    response = client.get("/workspaces/merangin")
    assert response.headers["Content-Language"] == "id"
    assert "Lapisan" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", "en"),
        ("id-ID,id;q=0.9,en;q=0.8", "id"),
        ("fr-FR,fr;q=0.9", "id"),
        ("fr-FR,en;q=0.5", "en"),
    ],
)
def test_accept_language(client, header, expected):
    response = client.get("/", headers={"Accept-Language": header})
    assert response.headers["Content-Language"] == expected


def test_lang_parameter_wins_and_is_remembered_in_a_cookie(client):
    response = client.get("/?lang=en", headers={"Accept-Language": "id"})
    assert response.headers["Content-Language"] == "en"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;")
    assert "SameSite=Lax" in cookie
    # the cookie now beats Accept-Language on a page without ?lang=
    later = client.get("/workspaces/merangin", headers={"Accept-Language": "id"})
    assert later.headers["Content-Language"] == "en"
    assert "Set-Cookie" not in later.headers
    back = client.get("/workspaces/merangin?lang=id")
    assert back.headers["Content-Language"] == "id"
    assert client.get("/").headers["Content-Language"] == "id"


def test_unknown_lang_parameter_is_ignored(client):
    response = client.get("/?lang=fr", headers={"Accept-Language": "en"})
    assert response.headers["Content-Language"] == "en"
    assert "Set-Cookie" not in response.headers


def test_default_locale_setting(tmp_path):
    from geoapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite'}",
            "DEFAULT_LOCALE": "en",
        }
    )
    response = app.test_client().get("/api/nope")
    assert response.headers["Content-Language"] == "en"


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/workspaces/merangin",
        "/workspaces/merangin/datasets/villages?version=1",
        "/workspaces/merangin/datasets/faskes/report?page=2&action=rejected",
        "/workspaces/nope",
        "/does/not/exist",
    ],
)
def test_every_page_has_a_language_switch_keeping_the_page(client, url):
    html = client.get(url + ("&" if "?" in url else "?") + "lang=id").get_data(as_text=True)
    switch = re.search(r'<nav class="lang-switch".*?</nav>', html, re.S).group(0)
    assert "<strong" in switch
    assert "Bahasa Indonesia" in switch
    link = re.search(r'<a href="([^"]+)"[^>]*data-lang="en"', switch).group(1)
    link = link.replace("&amp;", "&")
    path = url.split("?")[0]
    assert link.startswith(path + "?")
    assert "lang=en" in link
    for part in url.partition("?")[2].split("&"):
        if part:
            assert part in link
    assert client.get(link).headers["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("id", {"LANG": "en_US.UTF-8"}, "id"),
        (None, {"GEOAPP_LOCALE": "id", "LANG": "en_US.UTF-8"}, "id"),
        (None, {"LANG": "id_ID.UTF-8"}, "id"),
        (None, {"LC_ALL": "en_GB.UTF-8", "LANG": "id_ID.UTF-8"}, "en"),
        (None, {"LC_ALL": "C", "LANG": "id_ID.UTF-8"}, "en"),
        (None, {"LANG": "C.UTF-8"}, "en"),
        (None, {}, "en"),
    ],
)
def test_cli_locale(explicit, environ, expected):
    assert cli_locale(explicit, environ) == expected
