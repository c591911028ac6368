"""Response rates by channel and timing, with honest uncertainty, on pandas over the ledger.

    document = response_document(data, since=None, until=now, company_zone="Europe/London")

`data` is what store.report_data reads; the document is the F6 contract that `followup report
--json` prints and followup.reporting writes out (HTML, CSV, JSON).
"""

from followup.analytics.document import DEFINITIONS, response_document

__all__ = ["DEFINITIONS", "response_document"]
