"""Routing by channel: one transport for the sender that hands each envelope to the delivery its
channel declares (followup.channels): the email transport, or the recruiter's call sheet."""

from __future__ import annotations

from collections.abc import Mapping

from followup.channels import CHANNELS, Delivery, delivered_by
from followup.sending.setup import SendSetup, email_transport
from followup.transports import make_transport
from followup.transports.base import Envelope, SendOutcome, Transport


class ChannelRouter:
    name = "router"

    def __init__(self, deliveries: Mapping[Delivery, Transport]) -> None:
        self.deliveries = dict(deliveries)

    def send(self, envelope: Envelope) -> SendOutcome:
        return self.deliveries[CHANNELS[envelope.channel].delivery].send(envelope)

    def close(self) -> None:
        for transport in self.deliveries.values():
            transport.close()


def call_sheets(setup: SendSetup) -> Transport:
    return make_transport("call_sheet", directory=setup.call_sheet_dir)


def router_for(setup: SendSetup, email: Transport | None = None) -> ChannelRouter:
    """The transport a campaign sends through (`email`: one already made, e.g. the demo's)."""
    return ChannelRouter({"email": email or email_transport(setup.email), "call_sheet": call_sheets(setup)})


def on_call_sheets(setup: SendSetup, unknown: list[dict]) -> dict[str, str]:
    """Which of these messages of unknown fate are on a call sheet (message_key -> provider id):
    a call sheet reports no events, so its row is the proof a message went out."""
    keys = {row["message_key"] for row in unknown if row["channel"] in delivered_by("call_sheet")}
    return call_sheets(setup).find(keys) if keys else {}
