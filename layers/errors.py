"""Exceptions raised by the core, each saying where the problem is.

Every error that comes from a user's file names the file, and where it can, the row
(as the user sees it: the spreadsheet line for tables, the feature number for vector
files) and the column.
"""

from __future__ import annotations


class JangkauError(Exception):
    """Base class for every error the core raises on purpose."""


class InputError(JangkauError, ValueError):
    """A user's input cannot be used as given.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what would be accepted instead.
    file : str, optional
        The file's name as the user gave it.
    row : int, optional
        The row as the user sees it (spreadsheet line, or 1-based feature number).
    column : str, optional
        The column or field name.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(self.__str__())

    def where(self) -> str:
        """Return ``"file, row R, column 'C'"`` with the parts that are known."""
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class StoreError(JangkauError):
    """The store could not complete an operation; nothing was changed."""


class NotFoundError(StoreError, LookupError):
    """A workspace, dataset or version does not exist."""
