"""Who is stopped: the SQL that planning and the claim share to leave a stopped person out.

`followup stop` records a person in `candidate_stops` (control.stop_candidate) and
`followup stop --undo` removes them (control.undo_stop). Both the planning query and the claim
look the row up by its primary key, so leaving stopped people out costs one index probe a row.
"""

from __future__ import annotations

import sqlalchemy as sa

from followup.models import CandidateStop

DEFAULT_REASON = "stopped by hand"
_T = CandidateStop.__table__


def stopped(candidate_id: sa.ColumnElement) -> sa.Exists:
    """True when the candidate named by `candidate_id` (a column of the enclosing query) is stopped."""
    return sa.exists(sa.select(_T.c.candidate_id).where(_T.c.candidate_id == candidate_id))


def cancel_reason(candidate_id: sa.ColumnElement) -> sa.ScalarSelect:
    """The last_error of a stopped person's cancelled messages: "stopped by hand" when no reason
    was given (what it always said before stops had reasons), else "stopped: <reason>"."""
    reason = _T.c.reason
    text = sa.case((reason == DEFAULT_REASON, reason), else_=sa.literal("stopped: ") + reason)
    return sa.select(text).where(_T.c.candidate_id == candidate_id).scalar_subquery()
