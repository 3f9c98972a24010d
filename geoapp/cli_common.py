"""Shared pieces of the command line: per-run state, error handling and text output.

Kept apart from the commands so that :mod:`geoapp.cli` (the group and the listing commands)
and :mod:`geoapp.cli_import` (``import``, ``validate``, ``demo``) stay short.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from geoapp import i18n
from geoapp.labels import ACTION_LABELS, COUNT_LABELS, label
from layers.report import N_

if TYPE_CHECKING:
    from flask import Flask

    from layers.report import Finding, ValidationReport
    from layers.storage import Store

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_REJECTED = 2
EXIT_USAGE = 64

#: Code systems of a file's village codes (the same as ``layers.validate.CODE_SYSTEMS``).
CODE_SYSTEMS = ("kemendagri", "bps")
#: Order findings are printed in: what removed rows first.
ACTION_ORDER = {"rejected": 0, "repaired": 1, "warning": 2}

STATE_KEY = "geoapp.state"


class State:
    """Per-invocation state: the output language and the app (made on first use)."""

    def __init__(self, lang: str | None = None) -> None:
        self.lang = i18n.cli_locale(lang)
        self.translations = i18n.cli_translations(self.lang)
        self._app: Flask | None = None

    def _(self, text: str, **params: Any) -> str:
        """Translate ``text`` and fill its ``%(name)s`` placeholders."""
        translated = self.translations.gettext(text) if text else text
        return translated % params if params else translated

    def app(self) -> Flask:
        """The Flask app of the running ``flask`` command, or a new one from the configuration."""
        from flask import current_app, has_app_context
        from flask.cli import ScriptInfo

        if has_app_context():
            return current_app._get_current_object()  # type: ignore[attr-defined]
        script_info = click.get_current_context().find_object(ScriptInfo)
        if script_info is not None:  # run as ``flask --app geoapp <command>``
            return script_info.load_app()
        if self._app is None:
            from geoapp import create_app

            self._app = create_app()
        return self._app

    def store(self) -> Store:
        """The configured store."""
        from geoapp.store import get_store

        return get_store(self.app())


def state() -> State:
    """The state of the current command (made when the command runs outside ``geoapp``)."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if STATE_KEY not in root.meta:
        root.meta[STATE_KEY] = State()
    return root.meta[STATE_KEY]


def fail(message: str) -> None:
    """Print ``error: message`` on stderr and exit with status 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can cause into one ``error:`` line and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from geoapp.config import ConfigError
        from geoapp.errors import AppError
        from layers.errors import JangkauError

        try:
            return command(*args, **kwargs)
        except AppError as exc:
            fail(exc.render(state().translations.gettext))
        except JangkauError as exc:
            fail(exc.render(state().translations.gettext))
        except ConfigError as exc:
            fail(str(exc))
        except ValueError as exc:  # a bad option value the core refused, naming what it allows
            fail(str(exc))
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))

    return wrapper


# --- output helpers ------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Format rows as a plain text table with left-aligned columns."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def local_time(value: datetime, timezone: str) -> str:
    """``YYYY-MM-DD HH:MM`` in ``timezone`` (UTC when the zone is unknown)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def where(finding: Finding, file: str | None) -> str:
    """``file, row R, column 'C'`` in the output language."""
    s = state()
    parts = [file] if file else []
    if finding.row is not None:
        parts.append(s._(N_("row %(row)s"), row=finding.row))
    if finding.column:
        parts.append(s._(N_("column '%(column)s'"), column=finding.column))
    return ", ".join(parts)


def finding_lines(report: ValidationReport, limit: int, action: str | None = None) -> list[str]:
    """One line per finding (rejections first), at most ``limit`` (0 for all)."""
    s = state()
    findings = [f for f in report.findings if action is None or f.action == action]
    findings.sort(key=lambda f: ACTION_ORDER.get(f.action, 9))
    shown = findings if limit == 0 else findings[:limit]
    width = max((len(s._(ACTION_LABELS[a])) for a in ACTION_LABELS), default=8)
    lines = [
        f"{s._(label(ACTION_LABELS, f.action)).upper():<{width}}  "
        f"{where(f, report.file)}: {f.render(s.translations.gettext)}"
        for f in shown
    ]
    hidden = (
        len(findings)
        - len(shown)
        + sum(
            n for k, n in report.truncated.items() if action is None or k.startswith(action + ":")
        )
    )
    if hidden:
        lines.append(s._(N_("... and %(count)s more findings not shown"), count=hidden))
    return lines


def counts_line(counts: dict[str, int]) -> str:
    """``read 10, accepted 9, repaired 1, rejected 1, warnings 0`` in the output language."""
    s = state()
    return ", ".join(f"{s._(COUNT_LABELS[k])} {counts.get(k, 0)}" for k in COUNT_LABELS)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def report_data(report: ValidationReport, limit: int = 0) -> dict[str, Any]:
    """A report as JSON-ready data, messages in the output language."""
    from geoapp.catalogue import finding_json

    gettext = state().translations.gettext
    findings = report.findings if limit == 0 else report.findings[:limit]
    return {
        "kind": report.kind,
        "file": report.file,
        "ok": report.ok,
        "counts": report.counts(),
        "totals": dict(report.totals),
        "not_kept_in_detail": report.truncated,
        "unmatched_codes": dict(report.unmatched_codes),
        "findings_total": len(report.findings),
        "findings": [finding_json(f, gettext) for f in findings],
    }


def code_bridge(code_system: str, bridge: Path | None, kind: str | None = None):
    """The code bridge to use: ``--bridge``, else the bundled one for BPS-coded files and
    for facilities (whose Kemenkes codes carry a BPS regency code to check)."""
    if bridge is None and code_system != "bps" and kind != "facilities":
        return None
    from layers.codes import CodeBridge
    from layers.demo import CODES_DIR

    return CodeBridge.from_directory(bridge or CODES_DIR)


def status_note(message: str) -> None:
    """A progress note on stderr, only when a person is watching."""
    if sys.stderr.isatty():
        click.echo(message, err=True)


LIMIT_HELP = "Findings to print (0 for all)."
MAP_HELP = (
    "Use a file column for a layer column, as LAYER_COLUMN=FILE_COLUMN "
    "(e.g. --map type=JENIS_SARANA); repeatable."
)


def parse_mapping(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    """``("type=JENIS", ...)`` to ``{"type": "JENIS"}``; a malformed pair is a usage error."""
    mapping: dict[str, str] = {}
    for value in values:
        canonical, sep, column = value.partition("=")
        if not sep or not canonical.strip() or not column.strip():
            raise click.BadParameter(f"{value!r} is not LAYER_COLUMN=FILE_COLUMN", ctx, param)
        mapping[canonical.strip()] = column.strip()
    return mapping or None
