"""The response report as the files users read: report.html, report.json and CSV tables.

    files = write_report(document, Path("data/report"))

`document` is the one JSON document followup.analytics makes (F6): definitions, the window,
rate cells by channel, delay, local hour, weekday, step, variant and kind (each with its 95%
Wilson interval and a flag for cells under min_n), the funnel, times to response, comparisons
and recommendations, each with its sentence. This package only presents it: it computes no
rate, ranks nothing and never reads the ledger.
"""

from .files import ReportFiles, write_report

__all__ = ["ReportFiles", "write_report"]
