"""Printed maps (PNG/PDF) of the demo area: page sizes, texts, colours, labels, basemap."""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
from datetime import date

import numpy as np
import pytest
from PIL import Image

from layers.errors import InputError, NotFoundError
from layers.exports.map_parts import LabelCandidate, nice_length, pixel_size, place_labels

POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext") and shutil.which("pdfinfo")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) absent")
#: ColorBrewer YlOrRd, 5 classes (copied from colorbrewer2.org, not from the code).
YLORRD5 = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from layers.demo_load import load_demo
    from layers.score_run import run_score
    from layers.storage import open_store
    from layers.targeting.scenarios import run_scenario

    path = tmp_path_factory.mktemp("static") / "jangkau.sqlite"
    s = open_store(f"sqlite:///{path}")
    s.init()
    load_demo(s)
    run_score(s, "merangin", "health_access")
    run_scenario(
        s,
        "merangin",
        "lima",
        kind="placement",
        profile="health_access",
        settings={"top_n": 5},
        title="Lima desa",
    )
    yield s
    s.close()


def static(store, **kwargs):
    from layers.exports.static_map import StaticMap

    kwargs.setdefault("profile", "health_access")
    kwargs.setdefault("today", date(2026, 3, 5))
    return StaticMap(store, "merangin", **kwargs)


def pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdf_info(path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)


def run_table(store):
    from layers.score_run import load_run

    return load_run(store, "merangin", "health_access")["table_frame"]


# --- parts ---------------------------------------------------------------------------------


def test_pixel_sizes_follow_the_paper():
    assert pixel_size("A4", "portrait", 300) == (2480, 3508)
    assert pixel_size("A4", "landscape", 150) == (1754, 1240)
    assert pixel_size("A3", "portrait", 150) == (1754, 2480)
    assert nice_length(37_000) == 20_000
    assert nice_length(9.9) == 5


def test_labels_never_overlap_and_avoid_obstacles():
    cands = [LabelCandidate(f"L{i}", float(i % 5) * 3, float(i // 5) * 3, i) for i in range(25)]
    sizes = np.full((25, 2), (20.0, 8.0))
    placed = place_labels(
        cands,
        sizes,
        lambda x, y: (x * 4 + 50, y * 4 + 50),
        (0, 0, 200, 200),
        obstacles=[(85, 85, 120, 120)],
        padding=1,
    )
    assert 0 < len(placed) < 25  # dense candidates: some must be left out
    boxes = [(x - 11, y - 5, x + 11, y + 5) for _i, x, y in placed]
    for a in range(len(boxes)):
        assert not (
            boxes[a][0] < 120 and boxes[a][2] > 85 and boxes[a][1] < 120 and boxes[a][3] > 85
        )
        for b in range(a):
            p, q = boxes[a], boxes[b]
            assert not (p[0] < q[2] and p[2] > q[0] and p[1] < q[3] and p[3] > q[1])
    assert placed[0][0] == 0  # highest priority first


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paper", "orientation", "dpi", "size"),
    [
        ("A4", "portrait", 300, (2480, 3508)),
        ("A4", "landscape", 150, (1754, 1240)),
        ("A3", "portrait", 150, (1754, 2480)),
    ],
)
def test_png_has_the_exact_paper_size(store, tmp_path, paper, orientation, dpi, size):
    out = tmp_path / "peta.png"
    static(store, labels=None).render(out, "png", paper, orientation, dpi)
    with Image.open(out) as image:
        assert image.size == size
        assert image.info.get("dpi")
        assert round(image.info["dpi"][0]) == dpi


@needs_poppler
@pytest.mark.parametrize(
    ("paper", "orientation", "points"),
    [("A4", "portrait", (595.28, 841.89)), ("A3", "landscape", (1190.55, 841.89))],
)
def test_pdf_is_one_page_of_the_paper_size(store, tmp_path, paper, orientation, points):
    out = tmp_path / "peta.pdf"
    static(store, labels=None).render(out, "pdf", paper, orientation, 150)
    info = pdf_info(out)
    assert info["Pages"].strip() == "1"
    w, h = (float(v) for v in info["Page size"].split("pts")[0].split("x"))
    assert (round(w, 1), round(h, 1)) == (round(points[0], 1), round(points[1], 1))
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(out), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page*.png"))) == 1


@needs_poppler
def test_pdf_text_in_indonesian(store, tmp_path):
    out = tmp_path / "peta.pdf"
    m = static(store, title="Peta Kebutuhan Layanan Kesehatan")
    m.render(out, "pdf")
    text = " ".join(pdf_text(out).split())
    assert "Peta Kebutuhan Layanan Kesehatan" in text
    for label in ("Kebutuhan sangat rendah", "Kebutuhan sedang", "Kebutuhan sangat tinggi"):
        assert label in text
    # counts per class, from the run's own table
    counts = run_table(store)["need_class"].value_counts()
    for k in range(1, 6):
        assert f"({counts[k]} " in text
    # kecamatan names placed on the map
    from layers.mapdata import area_outlines

    names = {
        f["properties"]["name"] for f in area_outlines(store, "merangin", "kecamatan")["features"]
    }
    assert len(m.placed_labels) >= 8
    assert set(m.placed_labels) <= names
    assert sum(name in text for name in m.placed_labels) >= 8
    # footer: data versions, the run, the software, the date in Indonesian
    from layers.score_run import _software

    assert "villages@1" in text
    assert "faskes_kemenkes@1" in text
    assert "merangin/score_runs/health_access@1" in text
    assert f"Jangkau {_software()}" in text
    assert "5 Maret 2026" in text
    assert "Cahya DSN" in text
    assert "Kemenkes BPPSDMK 2019" in text
    assert "dist_m__puskesmas 2,0" in text  # the weight, Indonesian decimal comma


@needs_poppler
def test_pdf_text_in_english_with_scenario(store, tmp_path):
    from layers.targeting.scenarios import load_scenario

    out = tmp_path / "map.pdf"
    m = static(store, lang="en", scenario="lima", labels="selected")
    m.render(out, "pdf", "A4", "landscape")
    text = " ".join(pdf_text(out).split())
    assert "Very low need" in text
    assert "Very high need" in text
    assert "Selected in the scenario" in text
    assert "Scenario: Lima desa" in text
    assert "March 5, 2026" in text
    selected = [r["kode"] for r in load_scenario(store, "merangin", "lima")["result"]["selected"]]
    names = store.read_dataset("merangin", "villages").set_index("kode")["name"]
    for kode in selected:
        assert names[kode] in m.placed_labels
        assert names[kode] in text


def _pixel(png: bytes, x_frac: float, y_frac: float) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(png)) as image:
        w, h = image.size
        return image.convert("RGB").getpixel((int(x_frac * w), int((1 - y_frac) * h)))


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_village_colour_is_its_need_class_colour(store):
    import shapely

    from layers.exports.map_parts import layout

    table = run_table(store)
    villages = store.read_dataset("merangin", "villages").set_index("kode")
    frame = layout("A4", "portrait").map
    centre = (frame[0] + frame[2] / 2, frame[1] + frame[3] / 2)
    for need_class in (1, 5):
        kode = table.index[table["need_class"] == need_class][0]
        point = shapely.point_on_surface(villages.geometry[kode])
        box = (point.x - 0.004, point.y - 0.004, point.x + 0.004, point.y + 0.004)
        png = static(store, labels=None, bbox=box).to_bytes("png", dpi=150)
        assert _pixel(png, *centre) == _hex(YLORRD5[need_class - 1])


def test_basemap_from_mbtiles_is_drawn_under_the_villages(store, tmp_path):
    from layers.exports.map_parts import layout
    from layers.tiles import lonlat_to_tile

    path = tmp_path / "base.mbtiles"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    con.execute(
        "CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB)"
    )
    con.executemany(
        "INSERT INTO metadata VALUES (?, ?)",
        [("format", "png"), ("minzoom", "5"), ("maxzoom", "9"), ("attribution", "Peta dasar uji")],
    )
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (0, 0, 255)).save(buffer, "PNG")
    for z in range(5, 10):
        x0, y0 = lonlat_to_tile(101.0, -1.2, z)
        x1, y1 = lonlat_to_tile(103.5, -3.2, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                con.execute(
                    "INSERT INTO tiles VALUES (?, ?, ?, ?)",
                    (z, x, (1 << z) - 1 - y, buffer.getvalue()),
                )
    con.commit()
    con.close()
    frame = layout("A4", "portrait").map
    corner = (frame[0] + 0.01, frame[1] + frame[3] - 0.01)  # top left of the map: no village
    plain = static(store, labels=None).to_bytes("png", dpi=150)
    based = static(store, labels=None, basemap=path).to_bytes("png", dpi=150)
    assert _pixel(plain, *corner) != (0, 0, 255)
    assert _pixel(based, *corner) == (0, 0, 255)


def test_bad_choices_are_refused(store, tmp_path):
    with pytest.raises(InputError, match="lang"):
        static(store, lang="fr")
    with pytest.raises(InputError, match="labels"):
        static(store, labels="desa")
    with pytest.raises(InputError, match="bbox"):
        static(store, bbox=(103, -2, 102, -1))
    with pytest.raises(InputError, match="dpi"):
        static(store).render(tmp_path / "x.png", "png", dpi=200)
    with pytest.raises(InputError, match="paper"):
        static(store).render(tmp_path / "x.png", "png", paper="Letter")
    with pytest.raises(NotFoundError):
        static(store, scenario="tidak-ada").render(tmp_path / "x.png")
    with pytest.raises(InputError):
        static(store, indicator="no_such_indicator").render(tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_failed_write_keeps_the_old_file(store, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    out = tmp_path / "peta.png"
    out.write_bytes(b"old")

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        static(store, labels=None).render(out, "png")
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["peta.png"]


def test_indicator_map_uses_the_indicator_classes(store):
    from layers.mapdata import map_values

    m = static(store, indicator="dist_m__puskesmas", lang="en", labels=None)
    mv = map_values(store, "merangin", "health_access", "dist_m__puskesmas")
    assert m.data().values.legend == mv.legend
    fig = m.figure("png", "A4", "portrait", 150)
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "Lowest values" in texts
    assert "Highest values" in texts


@needs_poppler
def test_the_legend_lists_kecamatan_outlines_only_when_drawn(store, tmp_path, monkeypatch):
    """The report's cover leaves the outlines out above a size; its legend must too."""
    from layers.exports import report

    drawn = tmp_path / "drawn.pdf"
    static(store, lang="en").render(drawn, "pdf", "A4", "portrait")
    assert "Kecamatan boundary" in " ".join(pdf_text(drawn).split())

    monkeypatch.setattr(report, "MAX_OUTLINED_VILLAGES", 10)  # the demo has 215 villages
    cover = report._cover_map_class()(
        store, "merangin", profile="health_access", lang="en", today=date(2026, 3, 5)
    )
    left_out = tmp_path / "left_out.pdf"
    cover.render(left_out, "pdf", "A4", "portrait")
    text = " ".join(pdf_text(left_out).split())
    assert "Very high need" in text  # the legend is there
    assert "Kecamatan boundary" not in text
