"""Fixtures for the web app and CLI tests: compiled catalogues, an app over a seeded store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from geoapp.i18n import TRANSLATIONS_DIR

#: Text of a source file name that must always render escaped.
SCRIPT_NAME = "<script>alert(1)</script>.csv"


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile each ``messages.po`` under ``directory`` to ``.mo``, as ``pybabel compile`` does."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parts[-3])
        with mo.open("wb") as f:
            write_mo(f, catalog)
        written.append(mo)
    return written


@contextmanager
def open_demo_app(folder: Path) -> Iterator[object]:
    """An app over a fresh store in ``folder`` holding the bundled demo area."""
    from geoapp import create_app
    from geoapp.store import close_store, get_store
    from layers.demo_load import load_demo

    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{folder / 'jangkau.sqlite'}"},
        instance_path=str(folder / "instance"),
    )
    store = get_store(app)
    store.init()
    load_demo(store)
    try:
        yield app
    finally:
        close_store(app)


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues() -> None:
    compile_catalogues()


@pytest.fixture(scope="session", autouse=True)
def _signed_in_clients() -> Iterator[None]:
    """Every app's test client signs in as the test administrator (see auth_support)."""
    from flask import Flask

    from tests.geoapp.auth_support import SignedInClient

    before = Flask.test_client_class
    Flask.test_client_class = SignedInClient
    yield
    Flask.test_client_class = before


def seed(store) -> dict:
    """Fill ``store`` with a workspace whose layers cover what the pages must show."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point, box

    from layers.report import ValidationReport

    store.init()
    store.create_workspace("merangin", "Kabupaten Merangin (demo)", "Demo area")
    store.create_workspace("kosong", "Empty workspace")
    villages = gpd.GeoDataFrame(
        {"kode": ["15.02.01.2001", "15.02.01.2002"], "name": ["Renah Kemumu", "Tanjung Kasri"]},
        geometry=[box(101.9, -2.2, 102.0, -2.1), box(102.0, -2.2, 102.1, -2.1)],
        crs="EPSG:4326",
    )
    first = ValidationReport("villages", "desa_2024.geojson", rows_read=3, accepted=2)
    first.add(
        "rejected",
        "code_invalid",
        row=4,
        column="kode",
        value="15.2",
        system="Kemendagri",
        reason="too few digits",
    )
    first.rejected_count = 1
    v1 = store.put_dataset(
        "merangin",
        "villages",
        villages,
        source_name="desa_2024.geojson",
        source_sha256="1" * 64,
        report=first.to_dict(),
        created_by="ani",
    )
    second = ValidationReport("villages", "desa_2025.geojson", rows_read=2, accepted=2)
    second.add("repaired", "geometry_repaired", row=2, reason="Self-intersection")
    second.repaired_count = 1
    v2 = store.put_dataset(
        "merangin",
        "villages",
        villages,
        source_name="desa_2025.geojson",
        source_sha256="2" * 64,
        report=second.to_dict(),
        created_by="budi",
        note="215 desa/kelurahan polygons of Kabupaten Merangin (EPSG:4326)",
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F1"], "name": ["Puskesmas Jangkat"], "type": ["puskesmas"]},
        geometry=[Point(101.95, -2.15)],
        crs="EPSG:4326",
    )
    many = ValidationReport("facilities", "faskes.csv", rows_read=30, accepted=1)
    for row in range(2, 14):
        many.add("rejected", "value_required", row=row, column="name")
    for row in range(14, 18):
        many.add("warning", "point_outside_area", row=row)
    many.add(
        "rejected",
        "value_not_allowed",
        row=18,
        column="type",
        value="<b>klinik</b>",
        allowed="hospital, puskesmas",
    )
    many.rejected_count = 13
    fac = store.put_dataset(
        "merangin",
        "facilities",
        facilities,
        name="faskes",
        source_name="faskes.csv",
        source_sha256="3" * 64,
        report=many.to_dict(),
        created_by="ani",
    )
    indicators = pd.DataFrame({"kode": ["15.02.01.2001"], "families": [120.0]})
    script = store.put_dataset(
        "merangin",
        "indicators",
        indicators,
        name="podes",
        source_name=SCRIPT_NAME,
        source_sha256="4" * 64,
        report=ValidationReport("indicators", SCRIPT_NAME, 1, 1).to_dict(),
        created_by="<i>tamu</i>",
    )
    return {"villages_v1": v1, "villages_v2": v2, "faskes": fac, "podes": script}


@pytest.fixture
def app(tmp_path):
    """The app over a seeded SQLite store in ``tmp_path`` (report pages of 5 findings)."""
    from geoapp import create_app
    from geoapp.store import close_store, get_store

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'jangkau.sqlite'}",
            "REPORT_PAGE_SIZE": 5,
        },
        instance_path=str(tmp_path / "instance"),
    )
    app.config["SEEDED"] = seed(get_store(app))
    yield app
    close_store(app)


@pytest.fixture
def client(app):
    """A test client of :func:`app`."""
    return app.test_client()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one per test module (skipped where missing); its
    pages are signed in to every app a test serves."""
    from tests.geoapp.browser_support import SigningBrowser, chromium

    with chromium() as launched:
        yield SigningBrowser(launched)


@pytest.fixture(scope="module")
def server(demo):
    """The module's ``demo`` app served on a free local port."""
    from tests.geoapp.browser_support import serving

    with serving(demo) as url:
        yield url
