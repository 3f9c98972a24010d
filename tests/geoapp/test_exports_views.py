"""Download routes: the workspace as GeoPackage, one layer in each format, the HTML map."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pyogrio
import pytest

from geoapp.store import get_store
from layers.exports.data import export_layer

WS = "merangin"


def _download(client, url: str, content_type: str, filename: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"].startswith(content_type)
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    return response.data


def test_workspace_geopackage(client, app, tmp_path):
    body = _download(
        client, f"/workspaces/{WS}/export.gpkg", "application/geopackage+sqlite3", f"{WS}.gpkg"
    )
    path = tmp_path / "w.gpkg"
    path.write_bytes(body)
    assert dict(pyogrio.list_layers(path)) == {
        "faskes": "Point",
        "podes": None,
        "villages": "Polygon",
    }
    with app.app_context():
        villages = get_store().read_dataset(WS, "villages")
    back = pyogrio.read_dataframe(path, layer="villages")
    assert back["kode"].tolist() == villages["kode"].tolist()
    assert back["name"].tolist() == ["Renah Kemumu", "Tanjung Kasri"]


def test_layer_csv_is_the_core_export(client, app, tmp_path):
    body = _download(client, f"/workspaces/{WS}/export/faskes.csv", "text/csv", f"{WS}-faskes.csv")
    with app.app_context():
        export_layer(get_store(), WS, "faskes", tmp_path / "f.csv", "csv")
    assert body == (tmp_path / "f.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        {"facility_id": "F1", "name": "Puskesmas Jangkat", "type": "puskesmas",
         "lon": "101.95", "lat": "-2.15"}
    ]  # fmt: skip


def test_layer_csv_with_wkt(client):
    body = client.get(f"/workspaces/{WS}/export/villages.csv?wkt=1").data
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["kode"] for r in rows] == ["15.02.01.2001", "15.02.01.2002"]
    assert rows[0]["wkt"].startswith("POLYGON ((")


def test_layer_geojson_xlsx_shapefile_gpkg(client, tmp_path):
    from openpyxl import load_workbook

    doc = json.loads(
        _download(
            client, f"/workspaces/{WS}/export/villages.geojson", "application/geo+json",
            f"{WS}-villages.geojson",
        )
    )  # fmt: skip
    assert "crs" not in doc
    assert [f["properties"]["kode"] for f in doc["features"]] == ["15.02.01.2001", "15.02.01.2002"]
    xlsx = _download(
        client, f"/workspaces/{WS}/export/villages.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"{WS}-villages.xlsx",
    )  # fmt: skip
    sheet = load_workbook(io.BytesIO(xlsx))["villages"]
    assert sheet.cell(row=2, column=1).value == "15.02.01.2001"
    assert sheet.cell(row=2, column=1).data_type == "s"
    shp = _download(
        client, f"/workspaces/{WS}/export/villages.zip", "application/zip", f"{WS}-villages.zip"
    )
    with zipfile.ZipFile(io.BytesIO(shp)) as archive:
        assert {n.rsplit(".", 1)[1] for n in archive.namelist()} == {
            "shp", "shx", "dbf", "prj", "cpg", "csv"
        }  # fmt: skip
    gpkg = _download(
        client, f"/workspaces/{WS}/export/podes.gpkg", "application/geopackage+sqlite3",
        f"{WS}-podes.gpkg",
    )  # fmt: skip
    (tmp_path / "p.gpkg").write_bytes(gpkg)
    back = pyogrio.read_dataframe(tmp_path / "p.gpkg", layer="podes", read_geometry=False)
    assert back["kode"].tolist() == ["15.02.01.2001"]
    assert back["families"].tolist() == [120.0]


def test_html_map_download(client):
    body = _download(
        client, f"/workspaces/{WS}/export/map.html", "text/html", f"{WS}-map.html"
    ).decode("utf-8")
    match = re.search(r'id="villages-data">(.*?)</script>', body, re.S)
    assert match
    features = json.loads(match.group(1))["features"]
    assert [f["properties"]["n"] for f in features] == ["Renah Kemumu", "Tanjung Kasri"]
    assert "default-src 'none'" in body
    assert not re.search(r"<script[^>]+src=", body)


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        (f"/workspaces/{WS}/export/desa.csv", 400, "no layer"),
        (f"/workspaces/{WS}/export/villages.kml", 400, ".geojson"),
        (f"/workspaces/{WS}/export/villages", 400, ".zip"),
        (f"/workspaces/{WS}/export/map.html?tolerance_m=abc", 400, "tolerance_m"),
        (f"/workspaces/{WS}/export/map.html?tolerance_m=-5", 400, "tolerance"),
        (f"/workspaces/{WS}/export/map.html?profile=tidak_ada", 404, ""),
        ("/workspaces/tebo/export.gpkg", 404, ""),
        ("/workspaces/tebo/export/villages.csv", 404, ""),
    ],
)
def test_bad_downloads(client, url, status, text):
    response = client.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == status
    assert "Content-Disposition" not in response.headers
    assert text in response.get_data(as_text=True)


def test_download_blocks_on_the_pages(client):
    page = client.get(f"/workspaces/{WS}/datasets/faskes").get_data(as_text=True)
    links = re.findall(r'href="([^"]*/export/[^"]*)"', page)
    assert links == [f"/workspaces/{WS}/export/faskes.{e}" for e in
                     ("gpkg", "geojson", "csv", "xlsx", "zip")]  # fmt: skip
    for link in links:
        assert client.get(link).status_code == 200
    page = client.get(f"/workspaces/{WS}").get_data(as_text=True)
    assert f'href="/workspaces/{WS}/export.gpkg"' in page
    assert f'href="/workspaces/{WS}/export/map.html"' in page
    empty = client.get("/workspaces/kosong").get_data(as_text=True)
    assert 'id="downloads"' not in empty


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli(app):
    """Run ``geoapp`` in-process against the seeded store of :func:`app`."""
    from click.testing import CliRunner

    from geoapp.cli import main

    env = {
        "GEOAPP_DATABASE_URL": app.config["DATABASE_URL"],
        "GEOAPP_INSTANCE_PATH": app.instance_path,
        "GEOAPP_LOCALE": "en",
        "LC_ALL": "",
        "LANG": "C.UTF-8",
    }

    def invoke(*args: str):
        return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def out(tmp_path):
    """An empty folder for the exported files."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_cli_export_data(cli, out):
    done = cli("export", "data", "-w", WS, out / "w.gpkg")
    assert done.exit_code == 0, done.output
    size = (out / "w.gpkg").stat().st_size
    assert f"Wrote {out / 'w.gpkg'} (" in done.output
    assert f"{size / 1024 / 1024:.1f} MB" in done.output or f"{size / 1024:.1f} kB" in done.output
    assert "villages: 2 rows" in done.output
    assert sorted(n for n, _ in pyogrio.list_layers(out / "w.gpkg")) == [
        "faskes", "podes", "villages"
    ]  # fmt: skip
    done = cli("export", "data", "-w", WS, "--layer", "villages", out / "d.zip", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["layers"] == ["villages"]
    assert result["size"] == (out / "d.zip").stat().st_size
    assert zipfile.is_zipfile(out / "d.zip")


def test_cli_export_data_errors(cli, out):
    done = cli("export", "data", "-w", WS, out / "d.csv")
    assert done.exit_code == 1
    assert "csv holds one layer: name it with --layer" in done.output
    done = cli("export", "data", "-w", WS, "-l", "desa", out / "d.csv")
    assert done.exit_code == 1
    assert "no layer 'desa'; layers: faskes, podes, villages" in done.output
    done = cli("export", "data", "-w", WS, "-l", "villages", out / "d.txt")
    assert done.exit_code == 1
    assert "give --format" in done.output
    done = cli("export", "data", "-w", WS, "--format", "kml", out / "d.kml")
    assert done.exit_code == 64
    assert list(out.iterdir()) == []


def test_cli_export_html(cli, out):
    done = cli("--lang", "id", "export", "html", "-w", WS, "--tolerance-m", "0", out / "p.html")
    assert done.exit_code == 0, done.output
    text = (out / "p.html").read_text(encoding="utf-8")
    assert '<html lang="id">' in text
    assert "Renah Kemumu" in text
    assert "villages: 2 " in done.output
