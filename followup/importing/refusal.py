"""ImportRefused: the one way an import fails, with a message a recruiter can act on."""

from __future__ import annotations


class ImportRefused(Exception):
    """The whole file is refused. str(exc) is a clear message for a recruiter.

    problem: "unreadable", "empty", "missing_columns", "duplicate_columns", "unsupported_format", "bad_mapping"
    or "too_large" (past a limit of ReadLimits).
    """

    problem: str

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem

    def __reduce__(self):
        # Prefect and multiprocessing pickle exceptions; the default would call __init__ with one argument.
        return (type(self), (self.problem, str(self)))


_EXPORT_HINT = 'Export the candidate list as "CSV UTF-8" or as an Excel workbook (.xlsx) and import that file.'
