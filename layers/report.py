"""Validation reports: what an import accepted, repaired, rejected and warned about.

A report is plain data (it round-trips through JSON and is stored with every dataset
version). Each finding carries a message *code* and parameters; the English text comes
from :data:`MESSAGES`, whose templates are marked for translation so the web app and the
CLI can show them in Bahasa Indonesia (see :meth:`Finding.render`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from layers.errors import N_ as N_  # re-exported: layers and geoapp mark texts with it

Action = Literal["repaired", "rejected", "warning"]
ACTIONS: tuple[Action, ...] = ("repaired", "rejected", "warning")


#: Message templates by finding code, in English; ``%(name)s`` placeholders.
MESSAGES: dict[str, str] = {
    "geometry_repaired": N_("invalid geometry repaired with make_valid (%(reason)s)"),
    "geometry_empty": N_("the geometry is empty"),
    "geometry_missing": N_("the row has no geometry and no village code to place it"),
    "geometry_wrong_type": N_("expected %(expected)s geometry, found %(found)s"),
    "geometry_collection_reduced": N_(
        "repair produced a geometry collection; kept its %(kept)s parts"
    ),
    "crs_assumed": N_(
        "the file has no coordinate reference system; coordinates look like degrees, "
        "so EPSG:4326 (WGS 84) was assumed"
    ),
    "crs_transformed": N_("coordinates transformed from %(source)s to EPSG:4326"),
    "latlon_swapped": N_(
        "latitude and longitude look swapped (the point falls in the area only when swapped); "
        "swapped back"
    ),
    "latlon_swapped_suggested": N_(
        "latitude and longitude look swapped (the point falls in the area only when swapped); "
        "import with swap repair to fix"
    ),
    "coordinate_invalid": N_("%(value)r is not a coordinate (a number in degrees)"),
    "coordinate_out_of_range": N_(
        "latitude, longitude %(value)s is outside -90..90, -180..180 degrees"
    ),
    "point_outside_villages": N_("the point is outside every village of the workspace"),
    "point_outside_area": N_("the point is outside the workspace area"),
    "point_in_overlap": N_(
        "the point lies in %(count)s overlapping villages (%(codes)s); assigned to %(chosen)s, "
        "the one it lies deepest inside"
    ),
    "code_disagrees_with_location": N_(
        "its own code places it in %(expected)s but the point falls in %(found)s"
    ),
    # Kept for reports stored before the code problems below had codes of their own.
    "code_invalid": N_("%(value)r is not a valid %(system)s code: %(reason)s"),
    "code_empty": N_("%(value)r is not a valid Kemendagri code: the code is empty"),
    "code_not_digits": N_(
        "%(value)r is not a valid Kemendagri code: a code holds only digits and dots"
    ),
    "code_dotted_parts": N_(
        "%(value)r is not a valid Kemendagri code: dotted codes have parts of 2, 2, 2 and 4 digits"
    ),
    "code_length": N_(
        "%(value)r is not a valid Kemendagri code: a %(level)s code has %(want)s digits, "
        "this one has %(got)s"
    ),
    "code_province": N_(
        "%(value)r is not a valid Kemendagri code: province part %(part)s is not between 11 and 99"
    ),
    "code_zero_part": N_(
        "%(value)r is not a valid Kemendagri code: the %(part)s part cannot be 00"
    ),
    "code_village_digit": N_(
        "%(value)r is not a valid Kemendagri code: the village part %(part)s must start with 1 "
        "(kelurahan) or 2 (desa)"
    ),
    "crosswalk_fuzzy": N_(
        "BPS code %(value)s matched %(mapped)s by a fuzzy name match in the crosswalk; review it"
    ),
    "code_unmatched": N_("BPS code %(value)s has no Kemendagri match in the village crosswalk"),
    "code_duplicate": N_("code %(value)s appears more than once (first at row %(first)s)"),
    "id_duplicate": N_("id %(value)s appears more than once (first at row %(first)s)"),
    # Kept for reports stored before the count was a parameter of its own.
    "id_generated": N_("no id given; generated %(value)s"),
    "ids_generated": N_(
        "%(count)s rows had no id; ids were made from their row numbers (%(first)s to %(last)s)"
    ),
    "village_unknown": N_("village code %(value)s is not in the workspace's villages"),
    "village_type_differs": N_(
        "the file says %(value)s but code %(kode)s makes it a %(derived)s; the code is used"
    ),
    "value_required": N_("a value is required"),
    "value_not_allowed": N_("%(value)r is not one of: %(allowed)s"),
    "value_mapped": N_("%(value)r read as %(mapped)r"),
    "value_not_number": N_("%(value)r is not a number"),
    "value_out_of_range": N_("%(value)s is outside %(low)s to %(high)s"),
    "value_negative": N_("%(value)s is negative"),
    "date_invalid": N_("%(value)r is not a date (use YYYY-MM-DD)"),
    "date_future": N_("the date %(value)s is in the future"),
    "sentinel_unknown": N_("%(value)s is the census code for unknown or very far; stored as empty"),
    "column_ignored": N_("column not used by this layer: %(value)s"),
    "raster_band_used": N_(
        "the raster has %(count)s bands; band %(band)s is used as people per cell"
    ),
    "raster_no_nodata": N_("the raster declares no nodata value; every cell is taken as people"),
    "raster_negative_cells": N_("%(count)s cells held negative people; set to nodata"),
    "raster_partial_coverage": N_("the raster covers only %(share)s of the villages' area"),
    "name_missing": N_("no name given; using %(value)s"),
}


@dataclass
class Finding:
    """One thing an import noticed about one row (or the whole file when ``row`` is None)."""

    action: Action
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    row: int | None = None
    column: str | None = None

    @property
    def message(self) -> str:
        """The message in English."""
        return self.render(lambda text: text)

    def render(self, gettext: Callable[[str], str]) -> str:
        """Return the message translated with ``gettext`` and filled with its parameters."""
        template = MESSAGES.get(self.code, self.code)
        try:
            return gettext(template) % self.params
        except (KeyError, TypeError, ValueError):
            return f"{template} {self.params}"

    def where(self, file: str | None = None) -> str:
        """Return ``"file, row R, column 'C'"`` with the parts that are known."""
        parts = [p for p in (file,) if p]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)


@dataclass
class ValidationReport:
    """What one import did, row by row.

    Attributes
    ----------
    kind : str
        Layer kind (``villages``, ``facilities``, ``needs``, ``indicators``).
    file : str
        The source file's name as the user gave it.
    rows_read : int
        Records read from the file.
    accepted : int
        Rows in the resulting layer (repaired rows included).
    findings : list of Finding
        Every repair, rejection and warning.
    unmatched_codes : dict
        For joins through a code table: counts of codes with no match, by code.
    """

    kind: str
    file: str
    rows_read: int = 0
    accepted: int = 0
    findings: list[Finding] = field(default_factory=list)
    unmatched_codes: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    rejected_count: int = 0
    repaired_count: int = 0

    #: Findings kept in detail per (action, code); the rest are counted in ``totals``.
    DETAIL_LIMIT: ClassVar[int] = 1000

    def add(
        self,
        action: Action,
        code: str,
        row: int | None = None,
        column: str | None = None,
        **params: Any,
    ) -> Finding:
        """Record a finding and return it."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
        finding = Finding(action=action, code=code, params=params, row=row, column=column)
        key = f"{action}:{code}"
        self.totals[key] = self.totals.get(key, 0) + 1
        if self.totals[key] <= self.DETAIL_LIMIT:
            self.findings.append(finding)
        return finding

    def add_rows(
        self,
        action: Action,
        code: str,
        rows: Iterable[int],
        column: str | None = None,
        values: Iterable[Any] | None = None,
        per_row: dict[str, Iterable[Any]] | None = None,
        **params: Any,
    ) -> int:
        """Record the same finding for many rows.

        ``values`` fills ``%(value)s`` per row; ``per_row`` fills other parameters per row.
        Only the first :attr:`DETAIL_LIMIT` findings of a kind are kept in detail; the
        total is always exact. Returns the number of rows recorded.
        """
        rows = list(rows)
        columns = dict(per_row or {})
        if values is not None:
            columns["value"] = values
        key = f"{action}:{code}"
        before = self.totals.get(key, 0)
        room = max(0, self.DETAIL_LIMIT - before)
        lists = {
            k: list(v)[:room] if isinstance(v, list) else list(v[:room]) for k, v in columns.items()
        }
        for i, row in enumerate(rows[:room]):
            extra = {k: _plain(v[i]) for k, v in lists.items()}
            self.findings.append(
                Finding(
                    action=action,
                    code=code,
                    params={**params, **extra},
                    row=None if row is None else int(row),
                    column=column,
                )
            )
        self.totals[key] = before + len(rows)
        return len(rows)

    @property
    def truncated(self) -> dict[str, int]:
        """Findings counted but not kept in detail, by ``action:code``."""
        out = {}
        for key, total in self.totals.items():
            if total > self.DETAIL_LIMIT:
                out[key] = total - self.DETAIL_LIMIT
        return out

    def extend(self, findings: Iterable[Finding]) -> None:
        """Append findings made elsewhere."""
        self.findings.extend(findings)

    def _of(self, action: Action) -> list[Finding]:
        return [f for f in self.findings if f.action == action]

    @property
    def rejected(self) -> list[Finding]:
        """Findings that removed a row."""
        return self._of("rejected")

    @property
    def repaired(self) -> list[Finding]:
        """Findings that changed a value or geometry and kept the row."""
        return self._of("repaired")

    @property
    def warnings(self) -> list[Finding]:
        """Findings that kept the row unchanged but need a person's attention."""
        return self._of("warning")

    @property
    def rejected_rows(self) -> list[int]:
        """Sorted distinct rows that were rejected."""
        return sorted({f.row for f in self.rejected if f.row is not None})

    @property
    def repaired_rows(self) -> list[int]:
        """Sorted distinct rows that were repaired."""
        return sorted({f.row for f in self.repaired if f.row is not None})

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return self.rejected_count == 0 and not self.rejected

    def counts(self) -> dict[str, int]:
        """Row counts: read, accepted, repaired, rejected, and the number of warnings."""
        return {
            "read": self.rows_read,
            "accepted": self.accepted,
            "repaired": self.repaired_count,
            "rejected": self.rejected_count,
            "warnings": sum(n for k, n in self.totals.items() if k.startswith("warning:")),
        }

    def by_code(self) -> dict[tuple[str, str], int]:
        """Number of findings per (action, code), counting those not kept in detail."""
        out: dict[tuple[str, str], int] = {}
        for key, total in self.totals.items():
            action, code = key.split(":", 1)
            out[(action, code)] = total
        return out

    def lines(self, gettext: Callable[[str], str] = lambda t: t, limit: int | None = None):
        """Yield one human-readable line per finding: ``ACTION file, row, column: message``."""
        for i, f in enumerate(self.findings):
            if limit is not None and i >= limit:
                return
            yield f"{gettext(f.action).upper()}  {f.where(self.file)}: {f.render(gettext)}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        data = asdict(self)
        data["counts"] = self.counts()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        """Rebuild a report from :meth:`to_dict` output."""
        findings = [Finding(**f) for f in data.get("findings", [])]
        return cls(
            kind=data["kind"],
            file=data["file"],
            rows_read=data.get("rows_read", 0),
            accepted=data.get("accepted", 0),
            findings=findings,
            unmatched_codes=dict(data.get("unmatched_codes", {})),
            notes=dict(data.get("notes", {})),
            totals=dict(data.get("totals", {})),
            rejected_count=data.get("rejected_count", 0),
            repaired_count=data.get("repaired_count", 0),
        )


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a cell value for a finding."""
    if value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    return str(value)
