"""Errors raised while reading billing exports."""

from __future__ import annotations

from domain.errors import PlannerError


class BillingError(PlannerError):
    """A billing export cannot be read (missing file, unknown format, unreachable S3 prefix)."""


class BillingFormatError(BillingError):
    """A billing file is malformed: truncated, a required column missing, or a bad value.

    Attributes
    ----------
    source_file : str
        The file (local path or ``s3://`` URI) at fault.
    column : str or None
        The column at fault, as the file spells it.
    row : int or None
        The 1-based data row at fault (the header is row 0).
    """

    def __init__(self, message: str, *, source_file: str, column: str | None = None,
                 row: int | None = None) -> None:
        super().__init__(message)
        self.source_file = source_file
        self.column = column
        self.row = row
