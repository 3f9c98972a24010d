"""Safe uploads: size limits, a file's real type, and archives that cannot hurt.

A file a user sends is checked before any reader opens it:

- :func:`check_upload`: the size is within :attr:`UploadLimits.max_bytes`, the type read
  from the file's *content* (:func:`sniff_type`, never its name) is one the caller expects,
  and it agrees with the name's extension (a ``.csv`` that is really a ZIP archive, or an
  ``.xlsx`` that is a web page, is refused with both named). ZIP-based files are then
  checked as archives.
- :func:`check_archive`: every member of a ZIP archive (``.zip``, ``.kmz``, ``.xlsx``) has
  a safe relative path, is not a link, not encrypted and not a duplicate; the number of
  members, their total uncompressed size and each member's compression ratio are within
  the limits, first as the archive's directory declares them and then while every member
  is actually decompressed (a member whose data is larger than its header says is stopped
  there); archives inside the archive are checked the same way, down to
  :attr:`UploadLimits.max_depth`.

Every refusal is an :class:`~layers.errors.InputError` naming the file and, for
archives, the member. ``docs/uploads.md`` describes the limits and the messages.
"""

from __future__ import annotations

import bz2
import codecs
import itertools
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from layers.errors import N_, InputError, StoreError

if TYPE_CHECKING:
    from layers.importer import ImportOutcome
    from layers.storage.base import Store

__all__ = [
    "EXTENSION_TYPES",
    "LAYER_TYPES",
    "REGISTER_TYPES",
    "TYPE_LABELS",
    "UploadLimits",
    "check_archive",
    "check_upload",
    "import_upload",
    "save_upload",
    "sniff_type",
]

MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """How large and how deep an upload may be.

    Attributes
    ----------
    max_bytes : int
        Largest file accepted, in bytes (200 MB).
    max_members : int
        Most entries (files and folders) in one archive (10,000).
    max_total_uncompressed : int
        Largest total size of an archive's members once decompressed, nested archives
        included, in bytes (2 GB).
    max_ratio : float
        Largest uncompressed / compressed size of one member (100).
    ratio_min_bytes : int
        Members smaller than this once decompressed are not held to ``max_ratio`` (1 MB):
        a small file of repeated text compresses very well and harms no one; many of them
        are bounded by ``max_total_uncompressed``.
    max_depth : int
        How many archives may sit inside one another below the uploaded one (1: a ZIP may
        hold ZIP files, those may not hold more; 0: no archive inside an archive).
    """

    max_bytes: int = 200 * MB
    max_members: int = 10_000
    max_total_uncompressed: int = 2048 * MB
    max_ratio: float = 100.0
    ratio_min_bytes: int = 1 * MB
    max_depth: int = 1


#: How each type :func:`sniff_type` returns is named in messages (technical names that read
#: the same in every language).
TYPE_LABELS: dict[str, str] = {
    "zip": "ZIP",
    "xlsx": "Excel (.xlsx)",
    "kmz": "KMZ",
    "docx": "Word (.docx)",
    "pptx": "PowerPoint (.pptx)",
    "ole": "Office 97-2003 (.xls, .doc)",
    "gpkg": "GeoPackage",
    "sqlite": "SQLite",
    "geotiff": "GeoTIFF",
    "tiff": "TIFF",
    "geojson": "GeoJSON",
    "json": "JSON",
    "kml": "KML",
    "xml": "XML",
    "html": "HTML",
    "csv": "CSV",
    "text": "TXT",
    "shp": "Shapefile (.shp)",
    "shx": "Shapefile (.shx)",
    "dbf": "dBASE (.dbf)",
    "pdf": "PDF",
    "exe": "EXE",
    "image": "PNG/JPEG/GIF",
    "gzip": "GZIP",
    "rar": "RAR",
    "7z": "7-Zip",
    "empty": "0 bytes",
    "unknown": "?",
}

#: The content types a file name's extension may hold.
EXTENSION_TYPES: dict[str, frozenset[str]] = {
    ".csv": frozenset({"csv", "text"}),
    ".txt": frozenset({"csv", "text"}),
    ".tsv": frozenset({"csv", "text"}),
    ".xlsx": frozenset({"xlsx"}),
    ".zip": frozenset({"zip", "kmz"}),
    ".kmz": frozenset({"kmz"}),
    ".kml": frozenset({"kml"}),
    ".xml": frozenset({"xml", "kml"}),
    ".gpkg": frozenset({"gpkg"}),
    ".sqlite": frozenset({"sqlite", "gpkg"}),
    ".geojson": frozenset({"geojson", "json"}),
    ".json": frozenset({"geojson", "json"}),
    ".tif": frozenset({"geotiff", "tiff"}),
    ".tiff": frozenset({"geotiff", "tiff"}),
    ".shp": frozenset({"shp"}),
    ".shx": frozenset({"shx"}),
    ".dbf": frozenset({"dbf"}),
    ".pdf": frozenset({"pdf"}),
    ".html": frozenset({"html"}),
    ".htm": frozenset({"html"}),
}

#: Types a layer import reads (``geoapp import``, the web import of a layer).
LAYER_TYPES: frozenset[str] = frozenset(
    {"geojson", "json", "gpkg", "zip", "kmz", "kml", "csv", "text", "xlsx"}
)
#: Types a program register upload reads.
REGISTER_TYPES: frozenset[str] = frozenset({"xlsx", "zip", "csv", "text"})

#: Types that are ZIP archives and are checked with :func:`check_archive`.
ARCHIVE_TYPES: frozenset[str] = frozenset({"zip", "kmz", "xlsx", "docx", "pptx"})

_HEAD_BYTES = 1 << 20  # how much of a file sniffing reads
_CHUNK = 1 << 20  # how much is decompressed at a time
_GPKG_IDS = (0x47504B47, 0x47503130, 0x47503131)  # "GPKG", "GP10", "GP11"
_GEOTIFF_TAGS = (33550, 33922, 34264, 34735)  # pixel scale, tie point, transform, geokeys
_DBF_VERSIONS = frozenset({0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B})
_DBF_VERSIONS |= frozenset({0xCB, 0xE5, 0xF5, 0xFB})
_GEOJSON_TYPE = re.compile(
    r'"type"\s*:\s*"(FeatureCollection|Feature|Point|MultiPoint|LineString|'
    r'MultiLineString|Polygon|MultiPolygon|GeometryCollection)"'
)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_METHODS[zipfile.ZIP_BZIP2] = "bzip2"
_METHOD_NAMES = {9: "deflate64", 14: "lzma", 93: "zstandard", 95: "xz", 98: "ppmd", 99: "aes"}
_DRIVE = re.compile(r"^[A-Za-z]:")


# --- what a file is -------------------------------------------------------------------------


def sniff_type(path: str | os.PathLike[str]) -> str:
    """Tell a file's type from its content (magic bytes and structure), not its name.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    str
        One of the keys of :data:`TYPE_LABELS`: ``zip``, ``xlsx`` (a ZIP with
        ``[Content_Types].xml`` and ``xl/``), ``docx``, ``pptx``, ``kmz`` (a ZIP holding a
        ``.kml``), ``ole`` (Office 97-2003 or a password-protected Office file), ``gpkg``
        (SQLite with the GeoPackage ``application_id``), ``sqlite``, ``geotiff`` (a TIFF with
        GeoTIFF tags), ``tiff``, ``geojson``, ``json``, ``kml``, ``xml``, ``html``, ``csv``
        (text whose first line has a , ; tab or | delimiter), ``text`` (other text: UTF-8,
        UTF-16 with a BOM or cp1252, no NUL bytes), ``shp``, ``shx``, ``dbf``, ``pdf``,
        ``exe``, ``image``, ``gzip``, ``rar``, ``7z``, ``empty`` (0 bytes) or ``unknown``.
    """
    p = Path(path)
    with p.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    if not head:
        return "empty"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return _zip_type(p)
    if head.startswith(b"SQLite format 3\x00"):
        app_id = int.from_bytes(head[68:72], "big") if len(head) >= 72 else 0
        return "gpkg" if app_id in _GPKG_IDS else "sqlite"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff_type(p)
    binary = _binary_type(head)
    if binary is not None:
        return binary
    text = _text_head(head)
    if text is None:
        return "unknown"
    return _text_type(text)


def _binary_type(head: bytes) -> str | None:
    """Types told by their first bytes (None when none matches)."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x7fELF") or head[:4] in (
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
    ):
        return "exe"
    if head.startswith(b"MZ") and len(head) >= 64:
        at = int.from_bytes(head[60:64], "little")
        if head[at : at + 4] == b"PE\x00\x00" or b"This program cannot be run in DOS" in head[:512]:
            return "exe"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")):
        return "image"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head[:4] == b"\x00\x00\x27\x0a" and len(head) >= 100:
        version = int.from_bytes(head[28:32], "little")
        if version == 1000:
            # The first record starts at byte 100: number 1 in a .shp, offset 50 in a .shx.
            first = int.from_bytes(head[100:104], "big") if len(head) >= 104 else 1
            return "shx" if first == 50 else "shp"
    if _looks_like_dbf(head):
        return "dbf"
    return None


def _looks_like_dbf(head: bytes) -> bool:
    if len(head) < 33 or head[0] not in _DBF_VERSIONS:
        return False
    month, day = head[2], head[3]
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    header_len = int.from_bytes(head[8:10], "little")
    record_len = int.from_bytes(head[10:12], "little")
    if header_len < 33 or record_len < 1:
        return False
    # The field descriptors (32 bytes each) end with 0x0D.
    ends = range(32, min(header_len, len(head)), 32)
    return any(head[i] == 0x0D for i in ends)


def _zip_type(p: Path) -> str:
    try:
        with zipfile.ZipFile(p) as zf:
            names = [i.filename for i in zf.infolist()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return "zip"  # damaged: check_archive says how
    if "[Content_Types].xml" in names:
        for prefix, kind in (("xl/", "xlsx"), ("word/", "docx"), ("ppt/", "pptx")):
            if any(n.startswith(prefix) for n in names):
                return kind
    if any(n.lower().endswith(".kml") for n in names):
        return "kmz"
    return "zip"


def _tiff_type(p: Path) -> str:
    """``geotiff`` when the first image directory has a GeoTIFF tag, else ``tiff``."""
    try:
        with p.open("rb") as f:
            head = f.read(16)
            order = "<" if head[:2] == b"II" else ">"
            big = head[2:4] in (b"+\x00", b"\x00+")
            if big:
                offset = struct.unpack(order + "Q", head[8:16])[0]
                f.seek(offset)
                count = struct.unpack(order + "Q", f.read(8))[0]
                size, tag_at = 20, 0
            else:
                offset = struct.unpack(order + "L", head[4:8])[0]
                f.seek(offset)
                count = struct.unpack(order + "H", f.read(2))[0]
                size, tag_at = 12, 0
            entries = f.read(min(count, 4096) * size)
    except (OSError, struct.error):
        return "tiff"
    for i in range(0, len(entries) - size + 1, size):
        tag = struct.unpack(order + "H", entries[i + tag_at : i + tag_at + 2])[0]
        if tag in _GEOTIFF_TAGS:
            return "geotiff"
    return "tiff"


def _text_head(head: bytes) -> str | None:
    """The start of the file as text, or None when it is not text."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return head[: len(head) - len(head) % 2].decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in head:
        return None
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            # final=False: the head may cut a character in two.
            return decoder.decode(head, final=len(head) < _HEAD_BYTES)
        except UnicodeDecodeError:
            continue
    return None


def _text_type(text: str) -> str:
    body = text.lstrip("\ufeff \t\r\n")
    lowered = body[:4096].lower()
    if body.startswith(("{", "[")):
        return "geojson" if _GEOJSON_TYPE.search(body[:_HEAD_BYTES]) else "json"
    if lowered.startswith(("<!doctype html", "<html")) or (
        body.startswith("<") and re.search(r"<(html|head|body)[\s>]", lowered)
    ):
        return "html"
    if body.startswith("<"):
        return "kml" if re.search(r"<(\w+:)?kml[\s>]", lowered) else "xml"
    first = next((line for line in body.splitlines() if line.strip()), "")
    return "csv" if any(d in first for d in (",", ";", "\t", "|")) else "text"


# --- an upload ------------------------------------------------------------------------------


def _labels(types: Iterable[str]) -> str:
    return " / ".join(sorted({TYPE_LABELS.get(t, t) for t in types}))


def _mb(size: float) -> str:
    return f"{size / MB:.1f}"


def check_upload(
    path: str | os.PathLike[str],
    *,
    filename: str,
    expected: Iterable[str],
    limits: UploadLimits | None = None,
) -> str:
    """Check an uploaded file before it is read; return its type.

    Parameters
    ----------
    path : path-like
        Where the upload was saved.
    filename : str
        The name the user gave the file (only its last part is used in messages).
    expected : iterable of str
        The types (keys of :data:`TYPE_LABELS`) the caller can read, e.g.
        :data:`LAYER_TYPES` or :data:`REGISTER_TYPES`.
    limits : UploadLimits, optional
        The limits; the defaults when omitted.

    Returns
    -------
    str
        The type read from the content (see :func:`sniff_type`).

    Raises
    ------
    InputError
        The file is empty or larger than ``limits.max_bytes``; its extension is unknown;
        its content is of no known type, of a type the name's extension cannot hold
        (both named), or of a type the caller does not read; or it is an archive that
        :func:`check_archive` refuses.
    """
    limits = limits or UploadLimits()
    expected = frozenset(expected)
    source = PurePosixPath(str(filename).replace("\\", "/")).name or "upload"
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        raise InputError(N_("the file is empty (0 bytes)"), file=source)
    if size > limits.max_bytes:
        raise InputError(
            N_("the file is %(size)s MB, more than the %(limit)s MB allowed"),
            file=source,
            params={"size": _mb(size), "limit": _mb(limits.max_bytes)},
        )
    ext = PurePosixPath(source).suffix.lower()
    accepted = sorted(e for e, types in EXTENSION_TYPES.items() if types & expected)
    if ext not in EXTENSION_TYPES or not EXTENSION_TYPES[ext] & expected:
        raise InputError(
            N_("files named '%(ext)s' cannot be used here; send %(expected)s")
            if ext
            else N_("the file name has no extension; send %(expected)s"),
            file=source,
            params={"ext": ext, "expected": ", ".join(accepted)},
        )
    found = sniff_type(p)
    if found == "unknown":
        raise InputError(
            N_(
                "the file is named '%(ext)s' but its content is not a type Jangkau can "
                "recognise; send %(expected)s"
            ),
            file=source,
            params={"ext": ext, "expected": _labels(EXTENSION_TYPES[ext] & expected)},
        )
    if found not in EXTENSION_TYPES[ext]:
        raise InputError(
            N_(
                "the file is named '%(ext)s' but its content is %(found)s, not %(wanted)s; "
                "save it in the right format or correct its extension"
            ),
            file=source,
            params={
                "ext": ext,
                "found": TYPE_LABELS.get(found, found),
                "wanted": _labels(EXTENSION_TYPES[ext] & expected),
            },
        )
    if found not in expected:
        raise InputError(
            N_("%(found)s files cannot be used here; send %(expected)s"),
            file=source,
            params={"found": TYPE_LABELS.get(found, found), "expected": _labels(expected)},
        )
    if found in ARCHIVE_TYPES:
        check_archive(p, source=source, limits=limits)
    return found


# --- an archive -----------------------------------------------------------------------------


class _Budget:
    """The uncompressed bytes an archive and the archives inside it may still use."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


def check_archive(
    zipfile_or_path: zipfile.ZipFile | str | os.PathLike[str],
    *,
    source: str,
    limits: UploadLimits | None = None,
) -> None:
    """Refuse a ZIP archive that could harm the machine or hide what it holds.

    The archive's directory is checked first (paths, links, encryption, duplicates, counts,
    declared sizes and ratios), then each member's local header against the directory and
    the members' data against each other (no two members may share bytes), then every
    member is decompressed, without keeping it, and stopped as soon as it produces more
    than its declared size; its size and checksum must then match the directory. Archives
    inside the archive are checked the same way, their sizes counting towards the same
    total.

    Parameters
    ----------
    zipfile_or_path : zipfile.ZipFile or path-like
        An open archive (left open) or the archive's path.
    source : str
        The file's name as the user gave it, for messages.
    limits : UploadLimits, optional
        The limits; the defaults when omitted.

    Raises
    ------
    InputError
        The first problem found, naming the file and the member: a path that is absolute,
        has ``..``, a backslash, a drive letter or a NUL; a symbolic link; an encrypted
        member; a name used twice; a compression method other than stored, deflate or
        bzip2; more than ``max_members`` entries; a member above ``max_ratio``; more than
        ``max_total_uncompressed`` bytes in all; an archive nested deeper than
        ``max_depth``; a local header that disagrees with the directory; overlapping
        members; a member holding more data than declared; or a damaged member.
    """
    limits = limits or UploadLimits()
    budget = _Budget(limits.max_total_uncompressed)
    if isinstance(zipfile_or_path, zipfile.ZipFile):
        _check_zip(zipfile_or_path, source, limits, 0, budget)
        return
    try:
        zf = zipfile.ZipFile(zipfile_or_path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(N_("unreadable archive: not a valid ZIP file"), file=source) from exc
    with zf:
        _check_zip(zf, source, limits, 0, budget)


def _shown(name: str) -> str:
    """A member name as printed in a message (control characters made visible)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _refuse(template: str, source: str, member: str, **params: object) -> InputError:
    return InputError(template, file=source, params={"member": _shown(member), **params})


def _check_zip(zf: zipfile.ZipFile, source: str, limits: UploadLimits, depth: int, budget) -> None:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise InputError(
            N_("the archive holds %(count)s members, more than the %(limit)s allowed"),
            file=source,
            params={"count": len(infos), "limit": limits.max_members},
        )
    files = _check_directory(infos, source, limits, budget)
    ranges = [_check_local_header(zf, info, source) for info in files]
    _check_overlaps(files, ranges, source)
    for info, (start, _end) in zip(files, ranges, strict=True):
        first = _verify_member(zf, info, start, source)
        if first[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            _check_nested(zf, info, source, limits, depth, budget)


def _check_directory(
    infos: list[zipfile.ZipInfo], source: str, limits: UploadLimits, budget: _Budget
) -> list[zipfile.ZipInfo]:
    """The checks the archive's directory allows; returns the file members."""
    seen: dict[str, str] = {}
    files = []
    for info in infos:
        name = info.orig_filename
        _check_path(name, source)
        key = name.rstrip("/").casefold()
        if key in seen:
            raise _refuse(
                N_("archive member '%(member)s' appears more than once (also as '%(other)s')"),
                source,
                name,
                other=_shown(seen[key]),
            )
        seen[key] = name
        if info.flag_bits & 0x41:  # traditional or strong encryption
            raise _refuse(
                N_("archive member '%(member)s' is encrypted; send the archive without a password"),
                source,
                name,
            )
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise _refuse(N_("archive member '%(member)s' is a symbolic link"), source, name)
        if info.is_dir():
            continue
        if info.compress_type not in _METHODS:
            method = _METHOD_NAMES.get(info.compress_type, str(info.compress_type))
            raise _refuse(
                N_(
                    "archive member '%(member)s' is compressed with %(method)s, which cannot be "
                    "read safely; save the archive with ordinary ZIP (deflate) compression"
                ),
                source,
                name,
                method=method,
            )
        size, packed = info.file_size, info.compress_size
        if size >= limits.ratio_min_bytes and size > limits.max_ratio * max(packed, 1):
            raise _refuse(
                N_(
                    "archive member '%(member)s' expands %(ratio)s times (%(size)s MB from "
                    "%(packed)s bytes), more than the %(limit)s times allowed"
                ),
                source,
                name,
                ratio=f"{size / max(packed, 1):.0f}",
                size=_mb(size),
                packed=packed,
                limit=f"{limits.max_ratio:g}",
            )
        budget.used += size
        if budget.used > budget.limit:
            raise _refuse(
                N_(
                    "the archive expands to more than the %(limit)s MB allowed (reached at "
                    "member '%(member)s')"
                ),
                source,
                name,
                limit=_mb(budget.limit),
            )
        files.append(info)
    return files


def _check_path(name: str, source: str) -> None:
    if "\x00" in name:
        raise _refuse(
            N_("archive member '%(member)s' has a NUL character in its name"), source, name
        )
    if "\\" in name:
        raise _refuse(N_("archive member '%(member)s' has a backslash in its path"), source, name)
    if name.startswith("/"):
        raise _refuse(N_("archive member '%(member)s' has an absolute path"), source, name)
    if _DRIVE.match(name):
        raise _refuse(
            N_("archive member '%(member)s' has a drive letter in its path"), source, name
        )
    if ".." in name.split("/"):
        raise _refuse(
            N_("archive member '%(member)s' has a path that leads out of the archive (..)"),
            source,
            name,
        )


def _check_local_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> tuple[int, int]:
    """Compare a member's local header with the directory; return its data's byte range."""
    fp = zf.fp
    assert fp is not None  # an open archive
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size)
    mismatch = N_(
        "archive member '%(member)s' has a local header that does not match the archive's directory"
    )
    if len(header) != _LOCAL_HEADER.size:
        raise _refuse(mismatch, source, info.orig_filename)
    sig, _ver, flags, method, _t, _d, _crc, packed, size, name_len, extra_len = (
        _LOCAL_HEADER.unpack(header)
    )
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    name = fp.read(name_len)
    try:
        expected_name = info.orig_filename.encode(encoding)
    except UnicodeEncodeError:
        expected_name = info.orig_filename.encode("utf-8")
    if sig != b"PK\x03\x04" or name != expected_name or method != info.compress_type:
        raise _refuse(mismatch, source, info.orig_filename)
    trusted = not flags & 0x08 and 0xFFFFFFFF not in (packed, size)
    if trusted and (packed, size) != (info.compress_size, info.file_size):
        raise _refuse(
            N_(
                "archive member '%(member)s': its local header says %(local)s bytes but "
                "the archive's directory says %(declared)s"
            ),
            source,
            info.orig_filename,
            local=size,
            declared=info.file_size,
        )
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    return start, start + info.compress_size


def _check_overlaps(
    files: list[zipfile.ZipInfo], ranges: list[tuple[int, int]], source: str
) -> None:
    """Refuse two members whose bytes (local header and data) overlap."""
    spans = sorted(
        (info.header_offset, end, info.orig_filename)
        for info, (_start, end) in zip(files, ranges, strict=True)
    )
    for (_s, end, before), (begin, _e, name) in itertools.pairwise(spans):
        if begin < end:
            raise _refuse(
                N_("archive member '%(member)s' overlaps the data of '%(other)s'"),
                source,
                name,
                other=_shown(before),
            )


def _verify_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, start: int, source: str) -> bytes:
    """Decompress a member without keeping it; return its first bytes.

    Stops as soon as the data is larger than the directory declares; the size and CRC-32
    must then match.
    """
    fp = zf.fp
    assert fp is not None
    name = info.orig_filename
    declared = info.file_size
    method = info.compress_type
    if method == zipfile.ZIP_DEFLATED:
        decompressor: zlib._Decompress | bz2.BZ2Decompressor | None = zlib.decompressobj(-15)
    elif method == zipfile.ZIP_BZIP2:
        decompressor = bz2.BZ2Decompressor()
    else:
        decompressor = None
    produced = 0
    crc = 0
    first = b""

    def take(data: bytes) -> None:
        nonlocal produced, crc, first
        if not data:
            return
        produced += len(data)
        if produced > declared:
            raise _refuse(
                N_(
                    "archive member '%(member)s' holds more data than the %(declared)s bytes "
                    "its header declares; reading was stopped"
                ),
                source,
                name,
                declared=declared,
            )
        crc = zlib.crc32(data, crc)
        if len(first) < 8:
            first += data[: 8 - len(first)]

    damaged = N_("archive member '%(member)s' is damaged: its data does not match its header")
    remaining = info.compress_size
    fp.seek(start)
    try:
        while remaining > 0:
            chunk = fp.read(min(_CHUNK, remaining))
            if not chunk:
                raise _refuse(damaged, source, name)
            remaining -= len(chunk)
            if decompressor is None:
                take(chunk)
            elif isinstance(decompressor, bz2.BZ2Decompressor):
                if decompressor.eof:
                    break
                take(decompressor.decompress(chunk, _CHUNK))
                while not decompressor.eof and not decompressor.needs_input:
                    take(decompressor.decompress(b"", _CHUNK))
            else:
                data = chunk
                while not decompressor.eof:
                    piece = decompressor.decompress(data, _CHUNK)
                    take(piece)
                    data = decompressor.unconsumed_tail
                    if not data and len(piece) < _CHUNK:
                        break
    except InputError:
        raise
    except (zlib.error, OSError, EOFError, ValueError) as exc:
        raise _refuse(damaged, source, name) from exc
    if decompressor is not None and not decompressor.eof:
        raise _refuse(damaged, source, name)
    if produced != declared or crc != info.CRC:
        raise _refuse(damaged, source, name)
    return first


def _check_nested(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    source: str,
    limits: UploadLimits,
    depth: int,
    budget: _Budget,
) -> None:
    name = info.orig_filename
    if depth + 1 > limits.max_depth:
        raise _refuse(
            N_(
                "archive member '%(member)s' is an archive inside an archive, nested deeper "
                "than the %(limit)s level(s) allowed"
            ),
            source,
            name,
            limit=limits.max_depth,
        )
    inner: IO[bytes]
    with tempfile.SpooledTemporaryFile(max_size=32 * MB) as inner:
        with zf.open(info) as member:  # verified: exactly its declared size
            shutil.copyfileobj(member, inner, _CHUNK)
        inner.seek(0)
        inner_source = f"{source}/{_shown(name)}"
        try:
            nested = zipfile.ZipFile(inner)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise InputError(
                N_("unreadable archive: not a valid ZIP file"), file=inner_source
            ) from exc
        with nested:
            _check_zip(nested, inner_source, limits, depth + 1, budget)


# --- an upload from the web -----------------------------------------------------------------

#: Layer kinds a web upload may import (rasters are imported with ``geoapp import raster``).
UPLOAD_KINDS: tuple[str, ...] = ("villages", "facilities", "needs", "indicators")


def upload_name(filename: str | None) -> str:
    """The last part of an uploaded file's name, safe to use as a local file name.

    Folders, NUL and control characters are dropped; an empty or dot-only name becomes
    ``upload``. The extension is kept, so readers and messages see the user's file name.
    """
    text = str(filename or "").replace("\\", "/")
    base = PurePosixPath(text).name
    base = "".join(c for c in base if c.isprintable() and c not in "/:")
    base = base.strip().lstrip(".")
    if not base:
        return "upload"
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 10:
        return stem[:120] + "." + ext
    return base[:120]


def save_upload(stream: IO[bytes], target: Path, *, source: str, limits: UploadLimits) -> int:
    """Copy an upload to ``target``, stopping as soon as it passes ``limits.max_bytes``.

    Returns the number of bytes written; raises :class:`InputError` (naming ``source``)
    when the upload is larger than allowed.
    """
    written = 0
    with target.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            written += len(chunk)
            if written > limits.max_bytes:
                raise InputError(
                    N_("the file is more than the %(limit)s MB allowed"),
                    file=source,
                    params={"limit": _mb(limits.max_bytes)},
                )
            out.write(chunk)
    return written


def import_upload(
    store: Store,
    workspace: str,
    stream: IO[bytes],
    filename: str | None,
    kind: str,
    *,
    name: str | None = None,
    code_system: str = "kemendagri",
    bridge: Any = None,
    dry_run: bool = False,
    user: str | None = None,
    limits: UploadLimits | None = None,
) -> ImportOutcome:
    """Check an uploaded layer file and validate it (``dry_run``) or import it.

    The upload is saved in a temporary folder that is removed afterwards whatever
    happens, checked with :func:`check_upload` (types :data:`LAYER_TYPES`), then given to
    :func:`layers.importer.import_into_store`, the function ``geoapp import`` calls (or,
    for a dry run, to :func:`layers.importer.check_file` against the workspace's villages,
    as ``geoapp validate --workspace`` does).

    Parameters
    ----------
    store : Store
        Where to write.
    workspace : str
        Existing workspace name.
    stream : binary file object
        The upload's bytes.
    filename : str
        The file's name as the user gave it; its last part is the source name stored.
    kind : {"villages", "facilities", "needs", "indicators"}
        Layer kind.
    name : str, optional
        Dataset name (default: the kind).
    code_system : {"kemendagri", "bps"}
        Code system of the file's village codes.
    bridge : CodeBridge, optional
        BPS <-> Kemendagri bridge.
    dry_run : bool
        Validate only; nothing is written.
    user : str, optional
        Who imported it.
    limits : UploadLimits, optional
        Upload limits; the defaults when omitted.

    Returns
    -------
    ImportOutcome
        ``stored`` is False for a dry run and when rows were rejected (then nothing was
        written).

    Raises
    ------
    InputError
        The upload is refused by :func:`check_upload`, the dataset name is not valid
        (column ``name``), or the file cannot be read.
    NotFoundError
        The workspace does not exist.
    """
    from layers.importer import ImportOutcome, check_file, import_into_store

    if kind not in UPLOAD_KINDS:
        raise InputError(
            N_("kind must be one of %(kinds)s, not %(value)r"),
            column="kind",
            params={"kinds": ", ".join(UPLOAD_KINDS), "value": kind},
        )
    limits = limits or UploadLimits()
    if name is not None:
        from layers.storage.base import check_name

        try:
            check_name(name, "dataset")
        except StoreError as exc:
            template = exc.template
            raise InputError(template, column="name", params=exc.params) from None
    store.get_workspace(workspace)
    local = upload_name(filename)
    with tempfile.TemporaryDirectory(prefix="jangkau-upload-") as folder:
        path = Path(folder) / local
        save_upload(stream, path, source=local, limits=limits)
        check_upload(path, filename=local, expected=LAYER_TYPES, limits=limits)
        if not dry_run:
            return import_into_store(
                store,
                workspace,
                path,
                kind,
                name=name,
                code_system=code_system,
                bridge=bridge,
                user=user,
            )
        villages = None
        if kind != "villages" and any(d.name == "villages" for d in store.list_datasets(workspace)):
            villages = store.read_dataset(workspace, "villages", columns=["kode"])
        result = check_file(
            path, kind, workspace_villages=villages, bridge=bridge, code_system=code_system
        )
        return ImportOutcome(None, result.report, stored=False, result=result)
