"""Write docs/layers.md from layers/schema.py, so the documented schema is the real one.

Run with no arguments; tests/layers/test_schema_docs.py checks the file is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layers.schema import (  # noqa: E402
    FACILITY_TYPE_ALIASES,
    FACILITY_TYPES,
    NEED_CATEGORY_ALIASES,
    NEED_SOURCE_ALIASES,
    NEED_STATUS_ALIASES,
    SPECS,
)

INTRO = """# Layers: the canonical schemas

Every import is mapped onto one of these schemas; the column names below are the ones stored,
exported and shown. Codes are text (leading zeros kept). Geometries are stored in EPSG:4326
(longitude/latitude); distances and areas are computed in a metric CRS chosen for the area
(a UTM zone for a regency or province, an Indonesia-wide Albers equal-area conic for national
work; see `layers/crs.py`).

In validated villages, facilities and needs layers, `text` and `category` columns are
pandas' Arrow-backed `str` dtype (a missing value is `NaN`), so a large layer keeps its
text in Arrow from the file to the store; `int` columns are nullable `Int64`, `date`
columns `datetime64[ns]`.

Column names in a file are matched case-insensitively, ignoring spaces, dots and KoboToolbox
group prefixes (`grup_lokasi/kategori` matches `kategori`). A file's column can also be mapped by
hand (`--map type=JENIS_SARANA` on the command line). Columns that no schema uses are listed in
the report as ignored, never silently dropped.

This page is generated from `layers/schema.py` by `scripts/make_layers_doc.py`.
"""

INDICATOR_NOTE = """\
Indicator tables keep every further column whose values are numbers (decimal point or comma);
columns of mostly text (names, status labels) are listed in the report as ignored. A column
named `tahun`, `year`, `periode` or `period` makes the table long: one row per village and
period. With `--code-system bps` the BPS village code is translated through the village
crosswalk and kept in `kode_bps`, with the crosswalk's match method in `crosswalk_method`.
"""


def render() -> str:
    """Return the Markdown text of docs/layers.md."""
    out = [INTRO]
    for kind, spec in SPECS.items():
        out.append(f"## `{kind}`\n")
        line = spec.description + "."
        if spec.geometry:
            line += " Geometry: " + " or ".join(spec.geometry)
            if spec.geometry_optional:
                line += " (optional: rows may be keyed by village code instead)"
            line += "."
        out.append(line + "\n")
        out.append("| column | type | required | also found under | meaning |")
        out.append("|---|---|---|---|---|")
        for c in spec.columns:
            aliases = ", ".join(f"`{a}`" for a in c.aliases if a != c.name) or "(derived)"
            required = "yes" if c.required else "no"
            out.append(f"| `{c.name}` | {c.dtype} | {required} | {aliases} | {c.description} |")
        out.append("")
    out.append(INDICATOR_NOTE)
    out.append("## Facility types\n")
    out.append("| type | sector | also read from (case-insensitive) |\n|---|---|---|")
    for kind, sector in FACILITY_TYPES.items():
        out.append(f"| `{kind}` | {sector} | {', '.join(FACILITY_TYPE_ALIASES[kind])} |")
    out.append(
        "\nAny other value is rejected with the list of types; fix it in the file or map it.\n"
    )
    vocabularies = (
        ("Need categories", NEED_CATEGORY_ALIASES),
        ("Need sources", NEED_SOURCE_ALIASES),
        ("Need statuses", NEED_STATUS_ALIASES),
    )
    for title, vocab in vocabularies:
        out.append(f"## {title}\n")
        out.append("| value | also read from (case-insensitive) |\n|---|---|")
        for value, names in vocab.items():
            out.append(f"| `{value}` | {', '.join(names)} |")
        out.append("")
    out.append(
        "Severity is a whole number from 1 (minor) to 5 (critical). Status defaults to `open`."
    )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    (ROOT / "docs" / "layers.md").write_text(render(), encoding="utf-8")
    print("wrote docs/layers.md")
