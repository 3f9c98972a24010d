"""Delimited text (CSV, TXT, TSV): encodings, delimiters and line numbers."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from layers.errors import N_, InputError
from layers.io.columns import finish_columns, header_names
from layers.io.common import clean_reason


def _decode(data: bytes, notes: list[str]) -> bytes:
    """Return UTF-8 bytes without a BOM; note the encoding the file used."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[3:]
        try:
            body.decode("utf-8")
            notes.append("encoding utf-8 (with BOM)")
            return body
        except UnicodeDecodeError:
            data = body
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        notes.append("encoding utf-16")
        return data.decode("utf-16").encode("utf-8")
    if data.isascii():
        notes.append("encoding utf-8")
        return data
    try:
        data.decode("utf-8")
        notes.append("encoding utf-8")
        return data
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        notes.append("encoding cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        text = data.decode("latin-1")
        notes.append("encoding latin-1")
    return text.encode("utf-8")


def _sniff(sample: str) -> tuple[str, list[str]]:
    """Pick the delimiter among , ; tab | and return it with the parsed header."""
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line short
    text = "\n".join(lines[:50])
    best: tuple[float, int, int] = (-1.0, 0, 0)
    choice = ","
    header: list[str] = []
    for rank, delim in enumerate((",", ";", "\t", "|")):
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if r]
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width, -rank)
        if score > best:
            best, choice, header = score, delim, rows[0]
    if not header:
        first = next(csv.reader(io.StringIO(text)), [])
        header = first[:1] if first else []
    return choice, header


def read_csv(p: Path, source: str, notes: list[str]) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Read delimited text as text columns; return them, the line numbers and the delimiter."""
    data = _decode(p.read_bytes(), notes)
    body = data.lstrip(b"\r\n")
    lead = data[: len(data) - len(body)].count(b"\n") or (1 if len(body) < len(data) else 0)
    sample = body[: 1 << 16].decode("utf-8", errors="ignore")
    if not sample.strip():
        raise InputError(N_("the file holds no text"), file=source)
    delimiter, header = _sniff(sample)
    if delimiter != ",":
        notes.append("delimiter " + {"\t": "tab"}.get(delimiter, f"'{delimiter}'"))
    names = header_names(list(header), notes)
    fields = [f"f{i}" for i in range(len(names))]
    bad: list[Any] = []

    def on_bad(row: Any) -> str:
        bad.append(row)
        return "skip"

    def parse(threads: bool) -> pa.Table:
        bad.clear()
        return pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(
                use_threads=threads, column_names=fields, skip_rows=1, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_bad,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(fields, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )

    try:
        table = parse(True)
        if any(row.number is None for row in bad):  # numbers are known single-threaded
            table = parse(False)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        reason = clean_reason(exc, [str(p)], source)
        raise InputError(
            N_("cannot read the file as CSV: %(reason)s"), file=source, params={"reason": reason}
        ) from exc
    wrong = [row for row in bad if row.text.strip()]
    if wrong:
        row = wrong[0]
        template = (
            N_(
                "this row has %(found)s fields but the header has %(expected)s; check the "
                "delimiter and quotes (%(more)s more rows like it)"
            )
            if len(wrong) > 1
            else N_(
                "this row has %(found)s fields but the header has %(expected)s; check the "
                "delimiter and quotes"
            )
        )
        raise InputError(
            template,
            file=source,
            row=row.number + lead,
            params={
                "found": row.actual_columns,
                "expected": row.expected_columns,
                "more": len(wrong) - 1,
            },
        )
    # Records are numbered like spreadsheet lines: the header is 1, skipped blank lines count.
    rows = np.arange(2, len(table) + len(bad) + 2, dtype=np.int64)
    if bad:  # lines holding only spaces
        rows = rows[~np.isin(rows, [row.number for row in bad])]
        notes.append(f"{len(bad)} blank line{'s' if len(bad) > 1 else ''} skipped")
    frame = table.to_pandas()
    frame = finish_columns(frame, names, notes, source)
    return frame, rows + lead, delimiter
