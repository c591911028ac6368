"""Delivery backends behind one small interface (followup.transports.base.Transport).

    transport = make_transport("sendgrid", api_key=..., host=...)
    outcome = transport.send(envelope)   # SendOutcome: sent | retry | unknown | failed, never an exception
    transport.close()

Backends: sendgrid (SendGrid's v3 API), smtp (any SMTP server), file (.eml files in a folder),
memory (a list the tests read), and call_sheet (the recruiter's call sheets: where a channel
delivered by a call goes, see followup.channels). Each lives in its own module and is imported only when chosen,
so picking the file transport never loads the sendgrid package.
"""

from __future__ import annotations

import importlib
from typing import Any

from followup.transports.base import Envelope, SendOutcome, Transport, check_limits

_BACKENDS = {
    "sendgrid": ("followup.transports.sendgrid", "SendGridTransport"),
    "smtp": ("followup.transports.smtp", "SMTPTransport"),
    "file": ("followup.transports.file", "FileTransport"),
    "memory": ("followup.transports.memory", "MemoryTransport"),
    "call_sheet": ("followup.transports.callsheet", "CallSheetTransport"),
}
TRANSPORT_KINDS = tuple(_BACKENDS)


def make_transport(kind: str, **options: Any) -> Transport:
    """A ready transport of `kind`; `options` are that backend's constructor arguments:
    sendgrid(api_key, host, timeout, pooled, pool_size), smtp(host, port, username, password,
    timeout, ssl_context, require_tls, smtpapi), file(directory), memory(), call_sheet(directory)."""
    try:
        module_name, class_name = _BACKENDS[kind]
    except KeyError:
        raise ValueError(f"unknown transport {kind!r}; choose one of: {', '.join(TRANSPORT_KINDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)(**options)


__all__ = ["Envelope", "SendOutcome", "TRANSPORT_KINDS", "Transport", "check_limits", "make_transport"]
