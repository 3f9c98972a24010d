"""Exceptions raised by the core, each saying where the problem is.

Every error that comes from a user's file names the file, and where it can, the row
(as the user sees it: the spreadsheet line for tables, the feature number for vector
files) and the column.

Messages are English *templates* marked with :func:`N_` plus their parameters, like the
findings of :mod:`layers.report`: ``str(exc)`` is the English text, and
:meth:`JangkauError.render` gives it in the user's language with the app's ``gettext``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


def N_(text: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark ``text`` for extraction into the message catalogues without translating it."""
    return text


#: The parts of the "where" prefix, translated with the message.
ROW_TEMPLATE = N_("row %(row)s")
COLUMN_TEMPLATE = N_("column '%(column)s'")


def _identity(text: str) -> str:
    return text


def fill(template: str, params: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    """Translate ``template`` with ``gettext`` and fill in ``params``.

    Parameters
    ----------
    template : str
        English template with ``%(name)s`` placeholders, or a plain text when ``params``
        is empty (then it is not %-formatted, so a literal ``%`` is safe).
    params : mapping
        Values for the placeholders.
    gettext : callable
        Translation function; a translation that does not fit the parameters falls back
        to the English template.

    Returns
    -------
    str
        The filled-in message.
    """
    translated = gettext(template) if template else template
    if not params:
        return translated
    for text in (translated, template):
        try:
            return text % params
        except (KeyError, TypeError, ValueError):
            continue
    return f"{template} {dict(params)}"


class JangkauError(Exception):
    """Base class for every error the core raises on purpose.

    Parameters
    ----------
    template : str
        What is wrong and, where possible, what would be accepted instead: an English
        template marked with :func:`N_` whose ``%(name)s`` placeholders are filled from
        ``params`` (or a plain text when there are no parameters).
    file : str, optional
        The file's name as the user gave it.
    row : int, optional
        The row as the user sees it (spreadsheet line, or 1-based feature number).
    column : str, optional
        The column or field name.
    params : mapping, optional
        Values for the template's placeholders (names, counts, a library's reason, ...).

    Attributes
    ----------
    template : str
        The untranslated template.
    params : dict
        The template's parameters.
    message : str
        The English message without the file/row/column prefix.
    """

    def __init__(
        self,
        template: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = str(template)
        self.params = dict(params or {})
        self.file = file
        self.row = row
        self.column = column
        self.message = fill(self.template, self.params, _identity)
        super().__init__(self.__str__())

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the template, location and parameters (for worker processes)."""
        return (
            _rebuild,
            (type(self), self.template, self.file, self.row, self.column, self.params),
        )

    def where(self, gettext: Callable[[str], str] | None = None) -> str:
        """Return ``"file, row R, column 'C'"`` with the parts that are known.

        Parameters
        ----------
        gettext : callable, optional
            Translates the words "row" and "column"; English when omitted.
        """
        tr = gettext or _identity
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.row is not None:
            parts.append(fill(ROW_TEMPLATE, {"row": self.row}, tr))
        if self.column:
            parts.append(fill(COLUMN_TEMPLATE, {"column": self.column}, tr))
        return ", ".join(parts)

    def render(self, gettext: Callable[[str], str] | None = None) -> str:
        """Return the whole message, prefix included, translated with ``gettext``.

        Parameters
        ----------
        gettext : callable, optional
            The translation function of the user's language (``flask_babel.gettext``, or
            the command line's catalogue); English when omitted.

        Returns
        -------
        str
            ``"file, row R, column 'C': message"`` in that language.
        """
        tr = gettext or _identity
        message = fill(self.template, self.params, tr)
        where = self.where(tr)
        return f"{where}: {message}" if where else message

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


def _rebuild(
    cls: type[JangkauError],
    template: str,
    file: str | None,
    row: int | None,
    column: str | None,
    params: dict[str, Any],
) -> JangkauError:
    return cls(template, file=file, row=row, column=column, params=params)


class InputError(JangkauError, ValueError):
    """A user's input cannot be used as given (see :class:`JangkauError` for the arguments)."""


class StoreError(JangkauError):
    """The store could not complete an operation; nothing was changed."""


class ConflictError(StoreError):
    """A record changed after the version a save was based on; nothing was saved.

    Raised by :meth:`Store.put_record` when ``expected_version`` is not the latest version.

    Attributes
    ----------
    latest : RecordVersion or DatasetVersion or None
        The latest version (None when the record no longer exists).
    expected : int or None
        The version the save was based on.
    """

    def __init__(
        self,
        template: str,
        *,
        latest: Any = None,
        expected: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(template, **kwargs)
        self.latest = latest
        self.expected = expected


class NotFoundError(StoreError, LookupError):
    """A workspace, dataset or version does not exist."""


@dataclass(frozen=True)
class Note:
    """Something an analysis noticed: a message code and its parameters.

    Each module subclasses it with its own catalogue of English templates (``TEMPLATES``,
    code -> template marked with :func:`N_`), rendered in the user's language on demand.
    """

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    TEMPLATES: ClassVar[Mapping[str, str]] = {}

    @property
    def template(self) -> str:
        """The English template."""
        return self.TEMPLATES[self.code]

    def render(self, gettext: Callable[[str], str] | None = None) -> str:
        """The note in the language of ``gettext`` (English when omitted)."""
        return fill(self.template, self.params, gettext or (lambda text: text))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data."""
        return {"code": self.code, "params": dict(self.params), "message": self.render()}

    def __str__(self) -> str:
        return self.render()
