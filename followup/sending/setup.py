"""What sending needs from the settings, in small frozen objects made at the entry point
(DESIGN.md, Configuration): how email leaves (EmailSetup) and everything a send stage needs
(SendSetup). Both pickle, so a sender process gets the same.

No key and no explicit transport is a refusal, never a silent no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import SecretStr

from followup.cadence.file import load_cadence
from followup.cadence.spec import CadenceSpec
from followup.config import Settings
from followup.secret_key import signing_secret
from followup.sending.policy import SendPolicy
from followup.tracking.reply_address import ReplyAddresses
from followup.transports import make_transport
from followup.transports.base import Transport


class SendingRefused(Exception):
    """The settings cannot send: the message says what to set."""


@dataclass(frozen=True)
class EmailSetup:
    """How email leaves: FOLLOWUP_TRANSPORT and the chosen backend's settings."""

    outbox_dir: Path  # where the file transport writes .eml files
    kind: str | None = None  # FOLLOWUP_TRANSPORT; None: sendgrid when a key is set
    sendgrid_api_key: SecretStr | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    sendgrid_timeout_s: float = 30.0
    pool_size: int = 128  # keep-alive connections: one per request in flight
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_require_tls: bool = True

    @classmethod
    def of(cls, settings: Settings) -> EmailSetup:
        return cls(
            outbox_dir=settings.outbox_dir,
            kind=settings.transport,
            sendgrid_api_key=settings.sendgrid_api_key,
            sendgrid_api_host=settings.sendgrid_api_host,
            sendgrid_timeout_s=settings.sendgrid_timeout_s,
            pool_size=settings.send_concurrency,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_username=settings.smtp_username,
            smtp_password=settings.smtp_password,
            smtp_require_tls=settings.smtp_require_tls,
        )


@dataclass(frozen=True)
class SendSetup:
    """Everything a send stage needs: the ledger, the sender, how email leaves, where the call
    sheets go, how many processes send under which policy, the daily cap and its day, and the
    cadence whose send windows a message that missed its window moves to."""

    ledger_url: str
    email: EmailSetup
    call_sheet_dir: Path
    from_email: str | None = None
    from_name: str | None = None
    track_engagement: bool = True  # opens and clicks tracked in every email
    senders: int = 1  # sender processes (each under its own interpreter lock)
    policy: SendPolicy = SendPolicy()  # one process's policy
    daily_cap: int | None = None  # emails a day, all senders together
    company_timezone: str | None = None  # whose day the cap counts (None: UTC); zone of rows without one
    suppression_file: Path | None = None  # the user's do-not-contact list
    company_country: str | None = None  # whose public holidays rows without a country keep
    cadence: CadenceSpec = field(default_factory=load_cadence)
    # FOLLOWUP_REPLY_DOMAIN and the secret its reply addresses are signed with (None: no secret
    # to be had, which check_can_send refuses).
    reply_domain: str | None = None
    reply_secret: SecretStr | None = None

    def in_one_process(self) -> SendSetup:
        """The same send from one process, with the whole rate limit (each of several processes
        has its share)."""
        rate = self.policy.rate_per_s
        policy = replace(self.policy, rate_per_s=rate * self.senders if rate else None)
        return replace(self, senders=1, policy=policy)

    @property
    def reply_addresses(self) -> ReplyAddresses | None:
        if self.reply_domain is None or self.reply_secret is None:
            return None
        return ReplyAddresses(self.reply_domain, self.reply_secret)

    @classmethod
    def of(cls, settings: Settings) -> SendSetup:
        policy = SendPolicy(
            concurrency=settings.send_concurrency,
            # Each process takes its share of the rate, so the campaign keeps to the whole.
            rate_per_s=settings.send_rate / settings.senders if settings.send_rate else None,
            max_attempts=settings.max_attempts,
            pause_after_consecutive_failures=settings.pause_after_failures,
        )
        return cls(
            ledger_url=settings.ledger_url,
            email=EmailSetup.of(settings),
            call_sheet_dir=settings.call_sheet_dir,
            from_email=settings.from_email,
            from_name=settings.from_name,
            track_engagement=settings.track_engagement,
            senders=settings.senders,
            policy=policy,
            daily_cap=settings.daily_cap,
            company_timezone=settings.timezone,
            suppression_file=settings.suppression_file,
            company_country=settings.country,
            cadence=load_cadence(settings.cadence_file),
            reply_domain=settings.reply_domain,
            reply_secret=signing_secret(settings) if settings.reply_domain else None,
        )


def email_transport(setup: EmailSetup) -> Transport:
    """The email transport the setup chooses, or SendingRefused naming what is missing."""
    kind = setup.kind or ("sendgrid" if setup.sendgrid_api_key else None)
    if kind is None:
        raise SendingRefused(
            "no way to send email is configured. Set SENDGRID_API_KEY to send through SendGrid; "
            "or rehearse without sending: run `followup sandbox` and set SENDGRID_API_HOST="
            "http://127.0.0.1:3030 SENDGRID_API_KEY=SG.sandbox, or set FOLLOWUP_TRANSPORT=file "
            f"to write .eml files under {setup.outbox_dir}. (`followup demo` needs none of this.)"
        )
    if kind == "sendgrid":
        if setup.sendgrid_api_key is None:
            raise SendingRefused("FOLLOWUP_TRANSPORT=sendgrid needs SENDGRID_API_KEY")
        return make_transport(
            "sendgrid",
            api_key=setup.sendgrid_api_key.get_secret_value(),
            host=setup.sendgrid_api_host,
            timeout=setup.sendgrid_timeout_s,
            pool_size=setup.pool_size,
        )
    if kind == "smtp":
        if not setup.smtp_host:
            raise SendingRefused("FOLLOWUP_TRANSPORT=smtp needs FOLLOWUP_SMTP_HOST")
        password = setup.smtp_password.get_secret_value() if setup.smtp_password else None
        return make_transport(
            "smtp",
            host=setup.smtp_host,
            port=setup.smtp_port,
            username=setup.smtp_username,
            password=password,
            require_tls=setup.smtp_require_tls,
        )
    if kind == "file":
        return make_transport("file", directory=setup.outbox_dir)
    return make_transport(kind)


def sender_address(setup: SendSetup) -> tuple[str, str | None]:
    if not setup.from_email:
        raise SendingRefused(
            "set FOLLOWUP_FROM_EMAIL to the address you send from (a sender SendGrid has verified); "
            "replies go to each candidate's recruiter"
        )
    return setup.from_email, setup.from_name


def check_can_send(setup: SendSetup) -> None:
    """SendingRefused unless the setup names a sender, a way to send email, and (when set) a
    readable suppression list: checked before a run stores anything."""
    problems = []
    for check in (lambda: sender_address(setup), lambda: email_transport(setup.email).close()):
        try:
            check()
        except SendingRefused as exc:
            problems.append(str(exc))  # every problem at once, not one per attempt
    if setup.reply_domain is not None and setup.reply_secret is None:
        problems.append("FOLLOWUP_REPLY_DOMAIN signs each reply address with FOLLOWUP_SECRET_KEY: set it, the "
                        "same for every sender and `followup serve`")
    if setup.suppression_file is not None and not setup.suppression_file.is_file():
        problems.append(f"FOLLOWUP_SUPPRESSION_FILE {setup.suppression_file} is not a readable file")
    if problems:
        raise SendingRefused("; and ".join(problems))
