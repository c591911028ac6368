"""What the renderer produces: a transport-independent message, and the ways it can fail."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutboundMessage:
    """Exactly what would be sent; the transport decides only how."""

    kind: str
    channel: str
    variant: str
    template: str
    subject: str | None
    text: str | None
    html: str | None
    script: str | None
    attachments: tuple[Attachment, ...]
    headers: dict[str, str]
    call_sheet_row: dict[str, str] | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `followup preview --json` (text attachments stay readable)."""
        attachments = []
        for item in self.attachments:
            if item.content_type.startswith("text/"):
                content, encoding = item.content.decode("utf-8"), "utf-8"
            else:
                content, encoding = base64.b64encode(item.content).decode("ascii"), "base64"
            attachments.append(
                {
                    "filename": item.filename,
                    "content_type": item.content_type,
                    "encoding": encoding,
                    "content": content,
                }
            )
        return {
            "kind": self.kind,
            "channel": self.channel,
            "variant": self.variant,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "script": self.script,
            "attachments": attachments,
            "template": self.template,
            "headers": dict(self.headers),
            "call_sheet_row": None if self.call_sheet_row is None else dict(self.call_sheet_row),
        }


class RenderError(Exception):
    """One candidate's message cannot be rendered; the batch goes on without it.

    str() always names the template, the line and the variable, so the reason stored in the
    ledger and shown in the run summary is enough to fix the template or the data.
    """

    def __init__(
        self,
        message: str,
        *,
        template: str,
        line: int | None = None,
        variable: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.line = line
        self.variable = variable

    def __str__(self) -> str:
        line = "?" if self.line is None else str(self.line)
        variable = "-" if self.variable is None else repr(self.variable)
        return f"{self.template} line {line} (variable {variable}): {self.message}"


@dataclass(frozen=True)
class Problem:
    """One finding of `followup templates check`."""

    template: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.template if self.line is None else f"{self.template}:{self.line}"
        return f"{where}: {self.message}"
