"""From settings and a claimed ledger row to a transport and an envelope."""

from __future__ import annotations

import base64
import json

import pytest

from followup.config import Settings
from followup.sending.envelopes import CUSTOM_ARG_KEYS, EnvelopeBuilder
from followup.sending.routing import router_for
from followup.sending.setup import EmailSetup, SendingRefused, SendSetup, check_can_send, email_transport
from followup.transports.base import check_limits
from followup.transports.memory import MemoryTransport
from followup.transports.sendgrid import SendGridTransport


def claimed_row(**changes) -> dict:
    row = {
        "id": 1, "message_key": "a" * 64, "campaign": "nov", "candidate_id": "C-1", "decision_id": 7,
        "kind": "in_person_invite", "step": 0, "channel": "in_person", "variant": None, "template": "t",
        "subject": "Let's meet", "text_body": "Hello", "html_body": "<p>Hello</p>",
        "headers": json.dumps({"X-Entity-Ref-ID": "abc"}),
        "attachments": json.dumps([{"filename": "invite.ics", "content_type": "text/calendar",
                                    "content_b64": base64.b64encode(b"BEGIN:VCALENDAR").decode()}]),
        "call_sheet": None, "email": "ana@example.org", "first_name": "Ana", "last_name": "Lima",
        "locale": None, "recruiter_name": "Sam", "recruiter_email": "sam@acme.example",
    }  # fmt: skip
    return {**row, **changes}


def test_an_envelope_carries_ids_as_strings_the_recruiter_in_reply_to_and_the_attachment():
    envelope = EnvelopeBuilder("jobs@acme.example", "Acme")(claimed_row())
    assert envelope.custom_args == {"message_key": "a" * 64, "campaign": "nov", "candidate_id": "C-1",
                                    "kind": "in_person_invite", "step": "0", "channel": "in_person", "variant": ""}  # fmt: skip
    assert tuple(envelope.custom_args) == CUSTOM_ARG_KEYS
    assert (envelope.reply_to, envelope.to_name, envelope.from_email) == ("sam@acme.example", "Ana Lima", "jobs@acme.example")
    assert envelope.attachments == (("invite.ics", "text/calendar", b"BEGIN:VCALENDAR"),)
    assert envelope.headers == {"X-Entity-Ref-ID": "abc"} and envelope.call_sheet is None
    assert check_limits(envelope) is None


def test_json_columns_decoded_by_the_driver_read_the_same():
    """PostgreSQL hands JSON back decoded, SQLite as text."""
    row = claimed_row()
    decoded = {**row, "headers": json.loads(row["headers"]), "attachments": json.loads(row["attachments"])}
    assert EnvelopeBuilder("jobs@acme.example")(decoded) == EnvelopeBuilder("jobs@acme.example")(row)


def test_a_voicemail_goes_to_the_call_sheet_and_needs_its_row(tmp_path):
    sheet_row = {"name": "Ana Lima", "phone": "+4915112345678", "local_time_to_call": "2026-11-27 10:30 CET",
                 "script": "Hi Ana"}  # fmt: skip
    voicemail = claimed_row(channel="voicemail", kind="offer", call_sheet=json.dumps(sheet_row), attachments=None)
    envelope = EnvelopeBuilder("jobs@acme.example")(voicemail)
    email = MemoryTransport()
    router = router_for(SendSetup.of(Settings(data_dir=tmp_path)), email)
    assert router.send(envelope).status == "sent" and email.outbox == []
    sheet = (tmp_path / "call_sheets" / "2026-11-27.csv").read_text(encoding="utf-8").splitlines()
    assert sheet[0].startswith("local_time_to_call,name,phone,script")
    assert sheet[1].startswith("2026-11-27 10:30 CET,Ana Lima,'+4915112345678,Hi Ana,C-1,offer,0,")
    with pytest.raises(ValueError, match="call-sheet row"):
        EnvelopeBuilder("jobs@acme.example")(claimed_row(channel="voicemail", call_sheet=None))


def test_emails_ask_for_tracking_unless_it_is_turned_off_and_voicemails_never(tmp_path, monkeypatch):
    sheet_row = {"name": "Ana Lima", "phone": "+4915112345678", "local_time_to_call": "2026-11-27 10:30 CET",
                 "script": "Hi Ana"}  # fmt: skip
    voicemail = claimed_row(channel="voicemail", kind="offer", call_sheet=json.dumps(sheet_row), attachments=None)
    on = SendSetup.of(Settings(data_dir=tmp_path))
    monkeypatch.setenv("FOLLOWUP_TRACK_ENGAGEMENT", "false")
    off = SendSetup.of(Settings(data_dir=tmp_path))
    assert (on.track_engagement, off.track_engagement) == (True, False)

    def tracked(setup: SendSetup, row: dict) -> bool:
        return EnvelopeBuilder("jobs@acme.example", None, setup.track_engagement)(row).track_engagement

    assert tracked(on, claimed_row()) and tracked(on, claimed_row(channel="email", attachments=None))
    assert not tracked(off, claimed_row())
    assert not tracked(on, voicemail)


def test_without_a_key_or_a_transport_sending_is_refused_with_the_ways_out(tmp_path):
    with pytest.raises(SendingRefused) as refused:
        email_transport(EmailSetup.of(Settings(data_dir=tmp_path)))
    assert "followup sandbox" in str(refused.value) and "FOLLOWUP_TRANSPORT=file" in str(refused.value)
    with pytest.raises(SendingRefused, match="FOLLOWUP_SMTP_HOST"):
        email_transport(EmailSetup.of(Settings(data_dir=tmp_path, transport="smtp")))
    with pytest.raises(SendingRefused, match="FOLLOWUP_FROM_EMAIL"):
        check_can_send(SendSetup.of(Settings(data_dir=tmp_path, transport="file")))
    with pytest.raises(SendingRefused, match="FOLLOWUP_SUPPRESSION_FILE"):
        check_can_send(SendSetup.of(Settings(data_dir=tmp_path, transport="file", from_email="a@b.example",
                                             suppression_file=tmp_path / "missing.csv")))  # fmt: skip


def test_a_key_alone_chooses_sendgrid_and_never_shows_in_the_settings_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.secret-value")
    monkeypatch.setenv("SENDGRID_API_HOST", "http://127.0.0.1:9")
    settings = Settings(data_dir=tmp_path)
    transport = email_transport(EmailSetup.of(settings))
    try:
        assert isinstance(transport, SendGridTransport) and transport.host == "http://127.0.0.1:9"
    finally:
        transport.close()
    assert "SG.secret-value" not in repr(settings) and "SG.secret-value" not in str(settings.model_dump())
    assert settings.sendgrid_api_key.get_secret_value() == "SG.secret-value"
    with pytest.raises(SendingRefused, match="SENDGRID_API_KEY"):
        email_transport(EmailSetup.of(Settings(data_dir=tmp_path, transport="sendgrid", sendgrid_api_key=None)))
