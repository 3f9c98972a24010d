"""The printed map on the web: GET /workspaces/<ws>/map/export.<png|pdf> and the map page's
print control (Flask test client, demo area)."""

from __future__ import annotations

import io
import shutil
import subprocess
from html import unescape

import pytest
from PIL import Image

from tests.geoapp.conftest import open_demo_app

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
URL = "/workspaces/merangin/map/export"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    with open_demo_app(tmp_path_factory.mktemp("map_export")) as app:
        yield app


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def error_of(response, status: int, mentions: str = "") -> str:
    """An error page (the app's HTML error page outside /api) of ``status`` naming ``mentions``."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    text = unescape(response.get_data(as_text=True))
    assert mentions in text
    return text


def test_png_download_has_the_paper_size(client):
    response = client.get(f"{URL}.png?profile=health_access&paper=A4&orientation=landscape&dpi=150")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "image/png"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="merangin-health_access-A4.png"'
    )
    with Image.open(io.BytesIO(response.data)) as image:
        assert image.size == (1754, 1240)


@pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) absent")
@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", ("Very high need", "Kecamatan boundary")), ("id", ("Kebutuhan sangat tinggi",))],
)
def test_pdf_download_in_the_language_asked(client, demo_app, tmp_path, lang, words):
    from geoapp.store import get_store
    from layers.score_run import load_run

    response = client.get(f"{URL}.pdf?profile=health_access&paper=A3&lang={lang}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/pdf"
    path = tmp_path / "peta.pdf"
    path.write_bytes(response.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert "841.89 x 1190.55 pts" in info
    text = " ".join(
        subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split()
    )
    for word in words:
        assert word in text
    with demo_app.app_context():
        run = load_run(get_store(), "merangin", "health_access")["record"]
    assert run.ref in text


def test_bad_parameters_are_400_and_unknown_workspace_404(client):
    error_of(client.get(f"{URL}.png?paper=Letter&lang=en"), 400, "paper must be one of A4, A3")
    error_of(client.get(f"{URL}.gif?lang=en"), 400, "format must be one of png, pdf")
    error_of(client.get(f"{URL}.png?dpi=600&lang=en"), 400, "dpi must be one of 150, 300")
    error_of(client.get(f"{URL}.png?bbox=1,2,x,4&lang=en"), 400, "'1,2,x,4'")
    error_of(client.get(f"{URL}.png?bbox=103,-2,102,-1&lang=en"), 400, "bbox must be")
    error_of(client.get(f"{URL}.png?profile=health_access&indicator=nope&lang=en"), 400, "nope")
    error_of(client.get(f"{URL}.png?scenario=tidak-ada&lang=en"), 404, "tidak-ada")
    error_of(client.get("/workspaces/tidak-ada/map/export.png?lang=en"), 404, "tidak-ada")


def test_map_page_has_the_print_control(client):
    response = client.get("/workspaces/merangin/map?profile=health_access&lang=en")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="print-pdf"' in html
    assert 'id="print-png"' in html
    assert "js/map_print.js" in html
    link = unescape(html.split('id="print-pdf"', 1)[1].split('href="', 1)[1].split('"', 1)[0])
    assert link.startswith(f"{URL}.pdf?")
    assert "profile=health_access" in link
    assert client.get(link).status_code == 200


def test_cli_export_map_writes_the_page(demo_app, tmp_path):
    import json

    from click.testing import CliRunner

    from geoapp.cli import main

    url = demo_app.config["DATABASE_URL"]
    env = {"GEOAPP_DATABASE_URL": url, "GEOAPP_INSTANCE_PATH": str(tmp_path / "instance")}
    out = tmp_path / "peta.png"
    argv = ["--lang", "en", "export", "map", "-w", "merangin", "-p", "health_access"]
    result = CliRunner().invoke(
        main,
        [*argv, "--dpi", "150", "--landscape", "--json", str(out)],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["format"] == "png"
    assert body["orientation"] == "landscape"
    with Image.open(out) as image:
        assert image.size == (1754, 1240)
    bad = CliRunner().invoke(main, [*argv, "--bbox", "1,2", str(tmp_path / "x.pdf")], env=env)
    assert bad.exit_code == 1
    assert "bbox" in bad.output
    assert not (tmp_path / "x.pdf").exists()
