"""Uploads: the type read from the content, the size limit, and archives that cannot hurt.

Every file here is made with a real library (pyogrio, openpyxl, rasterio, Pillow, matplotlib,
zipfile) or is a real file (the Python interpreter); the crafted archives are written with
zipfile and then patched byte by byte where a header must lie. Each refusal must name the
file and, for archives, the member.
"""

from __future__ import annotations

import gzip
import io
import os
import sqlite3
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from layers.errors import InputError
from layers.importer import import_into_store
from layers.io import read_layer
from layers.programs.files import read_register_file
from layers.storage import open_store
from layers.uploads import (
    LAYER_TYPES,
    REGISTER_TYPES,
    UploadLimits,
    check_archive,
    check_upload,
    import_upload,
    sniff_type,
    upload_name,
)
from tests.layers.test_storage import dump, postgis_database, store_url  # noqa: F401

VILLAGES = gpd.GeoDataFrame(
    {"kode": ["15.02.01.2001", "15.02.01.1002"], "nama": ["Desa Satu", "Kelurahan Dua"]},
    geometry=[shapely.box(102.0, -2.1, 102.1, -2.0), shapely.box(102.1, -2.1, 102.2, -2.0)],
    crs=4326,
)
MB = 1024 * 1024


# --- files made with real libraries ----------------------------------------------------------


def write_gpkg(folder: Path) -> Path:
    path = folder / "desa.gpkg"
    pyogrio.write_dataframe(VILLAGES, path)
    return path


def write_geojson(folder: Path) -> Path:
    path = folder / "desa.geojson"
    pyogrio.write_dataframe(VILLAGES, path)
    return path


def write_kml(folder: Path) -> Path:
    path = folder / "desa.kml"
    pyogrio.write_dataframe(VILLAGES, path, driver="KML")
    return path


def write_kmz(folder: Path) -> Path:
    kml = write_kml(folder)
    path = folder / "desa.kmz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(kml, "doc.kml")
    return path


def write_shapefile_zip(folder: Path) -> Path:
    shp = folder / "shp"
    shp.mkdir()
    pyogrio.write_dataframe(VILLAGES, shp / "desa.shp")
    path = folder / "desa.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(shp.iterdir()):
            z.write(f, f"desa/{f.name}")
    return path


def shapefile_part(suffix: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        pyogrio.write_dataframe(VILLAGES, folder / "desa.shp")
        return folder / f"desa{suffix}"

    return write


def write_xlsx(folder: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["kode_desa", "jumlah_kk"])
    wb.active.append(["1502012001", 10])
    path = folder / "podes.xlsx"
    wb.save(path)
    return path


def write_geotiff(folder: Path) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    path = folder / "penduduk.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(102.0, -2.0, 0.05, 0.05),
    ) as dst:
        dst.write(np.ones((1, 4, 4), dtype="float32"))
    return path


def write_plain_tiff(folder: Path) -> Path:
    from PIL import Image

    path = folder / "foto.tif"
    Image.new("L", (4, 4)).save(path)
    return path


def write_png(folder: Path) -> Path:
    from PIL import Image

    path = folder / "foto.png"
    Image.new("RGB", (4, 4)).save(path)
    return path


def write_pdf(folder: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path = folder / "peta.pdf"
    Figure().savefig(path, format="pdf")
    return path


def write_sqlite(folder: Path) -> Path:
    path = folder / "data.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a TEXT)")
    con.commit()
    con.close()
    return path


def text_file(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(text.encode(encoding))
        return path

    return write


def write_gzip(folder: Path) -> Path:
    path = folder / "data.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    return path


def write_exe(folder: Path) -> Path:
    return Path(os.path.realpath(sys.executable))  # a real program (ELF or Mach-O)


HTML = "<!DOCTYPE html>\n<html><head><title>Login</title></head><body>Sesi habis</body></html>\n"

SNIFFED = [
    ("gpkg", write_gpkg),
    ("geojson", write_geojson),
    ("kml", write_kml),
    ("kmz", write_kmz),
    ("zip", write_shapefile_zip),
    ("shp", shapefile_part(".shp")),
    ("shx", shapefile_part(".shx")),
    ("dbf", shapefile_part(".dbf")),
    ("xlsx", write_xlsx),
    ("geotiff", write_geotiff),
    ("tiff", write_plain_tiff),
    ("image", write_png),
    ("pdf", write_pdf),
    ("sqlite", write_sqlite),
    ("gzip", write_gzip),
    ("exe", write_exe),
    ("html", text_file("halaman.html", HTML)),
    ("csv", text_file("faskes.csv", "id,nama\nF1,Pustu Sungai Manau\n")),
    ("csv", text_file("kk.csv", "kode;jumlah\n1502012001;10\n", "cp1252")),
    ("csv", text_file("kobo.csv", "\ufeffkode\tnama\n1502012001\tDesa Satu\n", "utf-16")),
    ("text", text_file("kode.txt", "1502012001\n1502012002\n")),
    ("json", text_file("lain.json", '{"nama": "bukan GeoJSON", "isi": [1, 2]}')),
    ("xml", text_file("lain.xml", '<?xml version="1.0"?><root><a>1</a></root>')),
    ("empty", text_file("kosong.csv", "")),
]


@pytest.mark.parametrize(
    ("expected", "make"), SNIFFED, ids=[f"{e}-{m.__name__}" for e, m in SNIFFED]
)
def test_sniff_type_reads_the_content(expected, make, tmp_path):
    assert sniff_type(make(tmp_path)) == expected


def test_sniff_type_ignores_the_name(tmp_path):
    real = write_xlsx(tmp_path)
    renamed = tmp_path / "bukan.csv"
    renamed.write_bytes(real.read_bytes())
    assert sniff_type(renamed) == "xlsx"
    pdf = write_pdf(tmp_path)
    disguised = tmp_path / "desa.geojson"
    disguised.write_bytes(pdf.read_bytes())
    assert sniff_type(disguised) == "pdf"


def test_gpkg_needs_its_application_id(tmp_path):
    path = write_gpkg(tmp_path)
    data = bytearray(path.read_bytes())
    assert data[68:72] in (b"GPKG", b"GP10", b"GP11")
    data[68:72] = b"\x00\x00\x00\x00"
    plain = tmp_path / "plain.sqlite"
    plain.write_bytes(bytes(data))
    assert sniff_type(plain) == "sqlite"


# --- check_upload ------------------------------------------------------------------------------


ACCEPTED = [
    (write_gpkg, LAYER_TYPES, "gpkg"),
    (write_geojson, LAYER_TYPES, "geojson"),
    (write_kml, LAYER_TYPES, "kml"),
    (write_kmz, LAYER_TYPES, "kmz"),
    (write_shapefile_zip, LAYER_TYPES, "zip"),
    (write_xlsx, LAYER_TYPES, "xlsx"),
    (write_xlsx, REGISTER_TYPES, "xlsx"),
    (text_file("faskes.csv", "id,nama\nF1,Pustu\n"), LAYER_TYPES, "csv"),
    (text_file("kode.txt", "1502012001\n"), LAYER_TYPES, "text"),
    (text_file("programs.csv", "program_id,name\nP1,Posyandu\n"), REGISTER_TYPES, "csv"),
]


@pytest.mark.parametrize(("make", "expected", "found"), ACCEPTED)
def test_check_upload_accepts_good_files(make, expected, found, tmp_path):
    path = make(tmp_path)
    assert check_upload(path, filename=path.name, expected=expected) == found


def renamed(make: Callable[[Path], Path], name: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        original = make(folder)
        target = folder / "upload" / name
        target.parent.mkdir()
        target.write_bytes(original.read_bytes())
        return target

    return write


@dataclass
class Refused:
    id: str
    make: Callable[[Path], Path]
    expect: tuple[str, ...]  # fragments of the message, besides the file name
    expected: frozenset[str] = LAYER_TYPES
    limits: UploadLimits | None = None


REFUSED = [
    Refused("pdf-as-csv", renamed(write_pdf, "faskes.csv"), ("'.csv'", "PDF")),
    Refused("html-as-xlsx", renamed(text_file("x.html", HTML), "podes.xlsx"), ("'.xlsx'", "HTML")),
    Refused("zip-as-csv", renamed(write_shapefile_zip, "faskes.csv"), ("'.csv'", "ZIP")),
    Refused("xlsx-as-geojson", renamed(write_xlsx, "desa.geojson"), ("'.geojson'", "Excel")),
    Refused("exe-as-csv", renamed(write_exe, "faskes.csv"), ("'.csv'", "EXE")),
    Refused("gpkg-as-zip", renamed(write_gpkg, "desa.zip"), ("'.zip'", "GeoPackage")),
    Refused("plain-sqlite-as-gpkg", renamed(write_sqlite, "desa.gpkg"), ("'.gpkg'", "SQLite")),
    Refused(
        "binary-garbage-as-csv",
        renamed(text_file("x.bin", "\x00\x01\x02" * 100, "latin-1"), "faskes.csv"),
        ("'.csv'", "can recognise"),
    ),
    Refused("unknown-extension", renamed(write_pdf, "laporan.docx"), ("'.docx'", ".csv")),
    Refused("no-extension", renamed(write_geojson, "desa"), ("no extension",)),
    Refused("raster-for-layers", write_geotiff, ("'.tif'",)),
    Refused("geojson-for-register", write_geojson, ("'.geojson'",), REGISTER_TYPES),
    Refused("kmz-for-register", renamed(write_kmz, "register.zip"), ("KMZ",), REGISTER_TYPES),
    Refused("empty", text_file("kosong.csv", ""), ("empty",)),
    Refused(
        "too-large",
        text_file("faskes.csv", "id,nama\n" + "F1,Pustu\n" * 20_000),
        ("MB allowed", "0.1 MB"),
        limits=UploadLimits(max_bytes=100_000),
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_check_upload_refuses_with_the_file_named(case: Refused, tmp_path):
    path = case.make(tmp_path)
    with pytest.raises(InputError) as caught:
        check_upload(path, filename=path.name, expected=case.expected, limits=case.limits)
    message = str(caught.value)
    assert message.startswith(path.name + ": "), message
    for fragment in case.expect:
        assert fragment in message, message


def test_check_upload_uses_only_the_last_part_of_the_name(tmp_path):
    path = renamed(write_pdf, "x.csv")(tmp_path)
    with pytest.raises(InputError) as caught:
        check_upload(path, filename="C:\\Users\\ani\\..\\laporan.csv", expected=LAYER_TYPES)
    assert str(caught.value).startswith("laporan.csv: ")
    assert upload_name("../../etc/passwd") == "passwd"
    assert upload_name("C:\\Users\\ani\\desa.geojson") == "desa.geojson"
    assert upload_name("..") == "upload"
    assert upload_name("a\x00b.csv") == "ab.csv"


# --- crafted archives ----------------------------------------------------------------------------


def build_zip(
    folder: Path,
    members: list[tuple[str | zipfile.ZipInfo, bytes]],
    name: str = "arsip.zip",
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    path = folder / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        with zipfile.ZipFile(path, "w", compression) as z:
            for member, data in members:
                z.writestr(member, data)
    return path


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


def patch_headers(path: Path, member: str, **fields: int) -> None:
    """Overwrite fields of a member's local header and/or its directory entry.

    ``local_flags``, ``local_size``, ``dir_flags``, ``dir_size`` (uncompressed size).
    """
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    central = data.find(b"PK\x01\x02")
    name = member.encode()
    while central >= 0:
        n = struct.unpack("<H", data[central + 28 : central + 30])[0]
        if bytes(data[central + 46 : central + 46 + n]) == name:
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central >= 0
    places = {
        "local_flags": (local + 6, "<H"),
        "local_size": (local + 22, "<L"),
        "dir_flags": (central + 8, "<H"),
        "dir_size": (central + 24, "<L"),
    }
    for field_name, value in fields.items():
        at, fmt = places[field_name]
        struct.pack_into(fmt, data, at, value)
    path.write_bytes(bytes(data))


def info(name: str, *, mode: int | None = None) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    if mode is not None:
        zi.create_system = 3
        zi.external_attr = mode << 16
    return zi


CSV = b"kode,nama\n1502012001,Desa Satu\n"


def bomb(folder: Path) -> Path:
    return build_zip(folder, [("desa.csv", CSV), ("isi.csv", b"\x00" * (50 * MB))])


def traversal(name: str) -> Callable[[Path], Path]:
    return lambda folder: build_zip(folder, [("desa.csv", CSV), (info(name), CSV)])


def nul_name(folder: Path) -> Path:
    path = build_zip(folder, [("aXb.csv", CSV)])
    path.write_bytes(path.read_bytes().replace(b"aXb.csv", b"a\x00b.csv"))
    return path


def symlink(folder: Path) -> Path:
    return build_zip(folder, [("desa.csv", CSV), (info("link.csv", mode=0o120777), b"/etc/passwd")])


def encrypted(folder: Path) -> Path:
    path = build_zip(folder, [("desa.csv", CSV), ("rahasia.csv", CSV)])
    patch_headers(path, "rahasia.csv", local_flags=0x1, dir_flags=0x1)
    return path


def duplicate(folder: Path) -> Path:
    return build_zip(folder, [("desa.csv", CSV), ("desa.csv", b"kode\n9999\n")])


def duplicate_case(folder: Path) -> Path:
    return build_zip(folder, [("Desa.csv", CSV), ("desa.csv", CSV)])


def local_header_lies(folder: Path) -> Path:
    path = build_zip(folder, [("desa.csv", CSV), ("besar.csv", CSV * 100)])
    patch_headers(path, "besar.csv", local_size=len(CSV))
    return path


def stream_exceeds_declared(folder: Path) -> Path:
    # Both headers say 1,000 bytes (a ratio of 1,000 / ~60 passes), the data is 5 MB.
    path = build_zip(folder, [("desa.csv", CSV), ("besar.csv", b"A" * (5 * MB))])
    patch_headers(path, "besar.csv", local_size=1000, dir_size=1000)
    return path


def too_many(folder: Path) -> Path:
    return build_zip(folder, [(f"f{i:03d}.csv", CSV) for i in range(60)])


def too_large_total(folder: Path) -> Path:
    return build_zip(
        folder,
        [(f"acak{i}.bin", os.urandom(2 * MB)) for i in range(3)],
    )


def nested_too_deep(folder: Path) -> Path:
    deepest = zip_bytes([("desa.csv", CSV)])
    middle = zip_bytes([("dalam.zip", deepest)])
    return build_zip(folder, [("tengah.zip", middle)])


def nested_bomb(folder: Path) -> Path:
    inner = zip_bytes([("isi.csv", b"\x00" * (20 * MB))])
    return build_zip(folder, [("desa.csv", CSV), ("dalam.zip", inner)])


def lzma(folder: Path) -> Path:
    return build_zip(folder, [("desa.csv", CSV)], compression=zipfile.ZIP_LZMA)


def damaged(folder: Path) -> Path:
    path = build_zip(folder, [("desa.csv", CSV)], compression=zipfile.ZIP_STORED)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Desa Satu", b"Desa Dua!"))
    return path


def overlapping(folder: Path) -> Path:
    """Two directory entries whose data share bytes (the non-recursive zip bomb's trick).

    The member ``luar.csv`` is stored, and its data is a complete local record of
    ``dalam.csv``; a second directory entry points into it.
    """
    inner = zip_bytes([("dalam.csv", CSV)])
    with zipfile.ZipFile(io.BytesIO(inner)) as z:
        zi = z.getinfo("dalam.csv")
        record_end = 30 + len(b"dalam.csv") + len(zi.extra) + zi.compress_size
        record = inner[:record_end]
    path = folder / "arsip.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("luar.csv", record)
    with zipfile.ZipFile(path, "a") as z:
        outer = z.getinfo("luar.csv")
        data_at = outer.header_offset + 30 + len(b"luar.csv") + len(outer.extra)
        # A directory entry for dalam.csv whose local header is luar.csv's data.
        extra = zipfile.ZipInfo("dalam.csv", zi.date_time)
        extra.compress_type = zi.compress_type
        extra.CRC, extra.compress_size, extra.file_size = zi.CRC, zi.compress_size, zi.file_size
        extra.header_offset = data_at
        z.filelist.append(extra)
        z.NameToInfo[extra.filename] = extra
        z._didModify = True  # write the directory again on close
    return path


@dataclass
class Bad:
    id: str
    make: Callable[[Path], Path]
    member: str
    expect: str
    limits: UploadLimits | None = None


BAD_ARCHIVES = [
    Bad("zip-bomb-ratio", bomb, "isi.csv", "more than the 100 times allowed"),
    Bad(
        "zip-bomb-total",
        bomb,
        "isi.csv",
        "more than the 10.0 MB allowed",
        UploadLimits(max_ratio=1e9, max_total_uncompressed=10 * MB),
    ),
    Bad(
        "too-large-total",
        too_large_total,
        "acak2.bin",
        "more than the 5.0 MB allowed",
        UploadLimits(max_total_uncompressed=5 * MB),
    ),
    Bad(
        "too-many-members",
        too_many,
        "",
        "60 members, more than the 50",
        UploadLimits(max_members=50),
    ),
    Bad("parent-folder", traversal("../../etc/cron.d/x.csv"), "../../etc/cron.d/x.csv", "(..)"),
    Bad("inner-parent", traversal("desa/../../x.csv"), "desa/../../x.csv", "(..)"),
    Bad("absolute", traversal("/etc/passwd"), "/etc/passwd", "absolute path"),
    Bad("backslash", traversal("..\\..\\x.csv"), "..\\..\\x.csv", "backslash"),
    Bad("drive-letter", traversal("C:/Windows/x.csv"), "C:/Windows/x.csv", "drive letter"),
    Bad("nul", nul_name, "a\\x00b.csv", "NUL"),
    Bad("symlink", symlink, "link.csv", "symbolic link"),
    Bad("encrypted", encrypted, "rahasia.csv", "encrypted"),
    Bad("duplicate", duplicate, "desa.csv", "more than once"),
    Bad("duplicate-case", duplicate_case, "desa.csv", "also as 'Desa.csv'"),
    Bad("local-header-lies", local_header_lies, "besar.csv", "local header says 31 bytes"),
    Bad("stream-exceeds-declared", stream_exceeds_declared, "besar.csv", "reading was stopped"),
    Bad("nested-too-deep", nested_too_deep, "dalam.zip", "nested deeper than the 1"),
    Bad("nested-bomb", nested_bomb, "isi.csv", "more than the 100 times"),
    Bad("lzma", lzma, "desa.csv", "lzma"),
    Bad("damaged", damaged, "desa.csv", "damaged"),
    Bad("overlapping", overlapping, "dalam.csv", "overlaps the data of 'luar.csv'"),
]


@pytest.mark.parametrize("case", BAD_ARCHIVES, ids=[c.id for c in BAD_ARCHIVES])
def test_check_archive_refuses_naming_file_and_member(case: Bad, tmp_path):
    path = case.make(tmp_path)
    with pytest.raises(InputError) as caught:
        check_archive(path, source="kiriman.zip", limits=case.limits)
    message = str(caught.value)
    assert message.startswith("kiriman.zip"), message
    if case.member:
        assert f"'{case.member}'" in message, message
    assert case.expect in message, message
    # The same through check_upload, with the name the user gave.
    with pytest.raises(InputError) as again:
        check_upload(path, filename="kiriman.zip", expected=LAYER_TYPES, limits=case.limits)
    assert str(again.value) == message


def test_nested_archive_messages_name_the_path_inside(tmp_path):
    with pytest.raises(InputError) as caught:
        check_archive(nested_bomb(tmp_path), source="kiriman.zip")
    assert str(caught.value).startswith("kiriman.zip/dalam.zip: archive member 'isi.csv'")


def test_limits_are_what_the_docs_say():
    limits = UploadLimits()
    assert limits.max_bytes == 200 * MB
    assert limits.max_total_uncompressed == 2048 * MB
    assert limits.max_ratio == 100
    assert limits.max_members == 10_000
    assert limits.max_depth == 1
    doc = (Path(__file__).parents[2] / "docs" / "uploads.md").read_text(encoding="utf-8")
    for figure in ("200 MB", "2 GB", "100", "10,000", "1 MB"):
        assert figure in doc


def streamed(folder: Path) -> Path:
    """A ZIP written to a pipe, as streaming tools do: sizes in data descriptors (flag 8)."""

    class Pipe:
        def __init__(self) -> None:
            self.buffer = io.BytesIO()

        def write(self, data: bytes) -> int:
            return self.buffer.write(data)

        def flush(self) -> None:
            pass

    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as z:  # type: ignore[arg-type]
        z.writestr("desa.csv", CSV * 1000)
        z.writestr("__MACOSX/._desa.csv", b"\x00\x05\x16\x07")
    path = folder / "streamed.zip"
    path.write_bytes(pipe.buffer.getvalue())
    with zipfile.ZipFile(path) as z:
        assert all(i.flag_bits & 0x08 for i in z.infolist())
    return path


GOOD_ARCHIVES = [
    ("shapefile", write_shapefile_zip),
    ("kmz", write_kmz),
    ("xlsx", write_xlsx),
    ("one-level-nested", lambda f: build_zip(f, [("dalam.zip", zip_bytes([("a.csv", CSV)]))])),
    ("small-but-compressible", lambda f: build_zip(f, [("kosong.csv", b"," * 500_000)])),
    ("bzip2", lambda f: build_zip(f, [("desa.csv", CSV * 50)], compression=zipfile.ZIP_BZIP2)),
    ("stored", lambda f: build_zip(f, [("desa.csv", CSV)], compression=zipfile.ZIP_STORED)),
    ("folders", lambda f: build_zip(f, [("desa/", b""), ("desa/a.csv", CSV)])),
    ("empty", lambda f: build_zip(f, [])),
    ("data-descriptors", streamed),
]


@pytest.mark.parametrize(("label", "make"), GOOD_ARCHIVES, ids=[g[0] for g in GOOD_ARCHIVES])
def test_check_archive_accepts_good_archives(label, make, tmp_path):
    path = make(tmp_path)
    check_archive(path, source=path.name)
    with zipfile.ZipFile(path) as z:
        check_archive(z, source=path.name)  # an open archive stays open and readable
        assert z.testzip() is None


def test_ratio_limit_is_exact(tmp_path):
    data = b"\x00" * (2 * MB)
    path = build_zip(tmp_path, [("nol.bin", data)])
    with zipfile.ZipFile(path) as z:
        ratio = len(data) / z.getinfo("nol.bin").compress_size
    check_archive(path, source="a.zip", limits=UploadLimits(max_ratio=ratio + 1))
    with pytest.raises(InputError, match=r"nol\.bin"):
        check_archive(path, source="a.zip", limits=UploadLimits(max_ratio=ratio - 1))


# --- the readers call the checks -------------------------------------------------------------


def test_read_layer_refuses_a_traversal_shapefile_zip(tmp_path):
    good = write_shapefile_zip(tmp_path)
    assert len(read_layer(good).frame) == 2
    bad = tmp_path / "jahat.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr(info("../../../tmp/pwned.txt"), b"x")
    with pytest.raises(InputError, match=r"jahat\.zip: archive member '\.\./\.\./\.\./tmp/pwned"):
        read_layer(bad)


def test_read_layer_refuses_a_kmz_bomb(tmp_path):
    kmz = write_kmz(tmp_path)
    with zipfile.ZipFile(kmz, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("files/nol.bin", b"\x00" * (20 * MB))
    with pytest.raises(InputError, match=r"desa\.kmz: archive member 'files/nol\.bin' expands"):
        read_layer(kmz)


def test_register_zip_is_checked(tmp_path):
    good = build_zip(
        tmp_path, [("programs.csv", b"program_id,name,sector\nP1,Posyandu,kesehatan\n")]
    )
    assert set(read_register_file(good)) == {"programs"}
    bad = build_zip(
        tmp_path,
        [("programs.csv", b"program_id,name,sector\n"), (info("../programs.csv"), b"x")],
        name="register.zip",
    )
    with pytest.raises(InputError, match=r"register\.zip: archive member '\.\./programs\.csv'"):
        read_register_file(bad)


@pytest.fixture
def store(store_url):  # noqa: F811 (the fixture imported above)
    s = open_store(store_url)
    s.init()
    s.create_workspace("uji")
    yield s
    s.close()


def test_import_of_a_traversal_zip_changes_nothing(store, tmp_path):
    good = write_shapefile_zip(tmp_path)
    assert import_into_store(store, "uji", good, "villages").stored
    before = dump(store)
    bad = tmp_path / "batas.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr(info("../../evil.shp"), b"x")
    with pytest.raises(InputError) as caught:
        import_into_store(store, "uji", bad, "villages")
    assert str(caught.value).startswith("batas.zip: archive member '../../evil.shp'")
    assert dump(store) == before
    assert [d.version for d in store.list_datasets("uji", all_versions=True)] == [1]


def test_import_upload_checks_then_imports(store, tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    source = write_geojson(tmp_path)
    with source.open("rb") as stream:
        checked = import_upload(store, "uji", stream, "desa.geojson", "villages", dry_run=True)
    assert not checked.stored
    assert checked.report.counts()["accepted"] == 2
    assert store.list_datasets("uji") == []
    with source.open("rb") as stream:
        done = import_upload(store, "uji", stream, "C:\\data\\desa.geojson", "villages")
    assert done.stored
    assert done.version.ref == "uji/villages@1"
    assert done.version.source_name == "desa.geojson"
    stored = store.read_dataset("uji", "villages")
    assert sorted(stored["kode"]) == sorted(VILLAGES["kode"])
    before = dump(store)
    pdf = write_pdf(tmp_path)
    with pdf.open("rb") as stream, pytest.raises(InputError, match=r"^desa\.geojson: .*PDF"):
        import_upload(store, "uji", stream, "desa.geojson", "villages")
    with source.open("rb") as stream, pytest.raises(InputError, match="MB allowed"):
        import_upload(
            store, "uji", stream, "desa.geojson", "villages", limits=UploadLimits(max_bytes=100)
        )
    with source.open("rb") as stream, pytest.raises(InputError) as bad_name:
        import_upload(store, "uji", stream, "desa.geojson", "villages", name="Desa Baru!")
    assert bad_name.value.column == "name"
    assert dump(store) == before
    assert list(scratch.iterdir()) == []  # every upload's temporary folder was removed


def test_a_workbook_bomb_is_refused_by_the_reader_itself(tmp_path):
    """The command line reads XLSX without the web's upload check: the reader checks it."""
    import zipfile

    from layers.io import read_layer

    path = tmp_path / "bom.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (300 * 2**20))
    with pytest.raises(InputError) as caught:
        read_layer(path)
    assert caught.value.file == "bom.xlsx"
    assert "sheet1.xml" in str(caught.value)
