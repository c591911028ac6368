"""One typed Settings object, read from the environment at the entry point only.

Everything below the entry point receives the values it needs as arguments, so tests and
Prefect tasks never depend on the process environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from followup.cadence.spec import BASE_VARIANT, KINDS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FOLLOWUP_",
        # An optional settings file holds the same variables as the environment; the
        # environment wins, so a schedule can override one value without editing the file.
        env_file=None,
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the ledger, quarantine files, data docs and reports land.",
    )
    database_url: str | None = Field(
        default=None,
        description="Any SQLAlchemy URL; default: a SQLite file in the data dir.",
    )
    max_bad_share: float = Field(
        default=0.20,
        ge=0.0,
        le=1.0,
        description="A batch or outcome file with more than this share of bad rows is refused whole.",
    )
    # The defaults are followup.importing.ReadLimits' (a test holds them equal); not imported
    # from there, since reading the settings must not import pyarrow.
    max_file_mb: float = Field(
        default=512,
        gt=0,
        description="A batch file bigger than this many MB is refused; an XLSX counts as what it unzips to.",
    )
    max_columns: int = Field(default=1000, ge=1, description="A batch file with more columns is refused.")
    max_cell_chars: int = Field(
        default=32_767,
        ge=1,
        description="A row with a longer cell is quarantined, the cell cut to this length in the quarantine file.",
    )
    country: str | None = Field(
        default=None,
        description="Company default country (ISO 3166 alpha-2), used to read national phone numbers.",
    )

    timezone: str | None = Field(
        default=None,
        description="Company default IANA time zone, for rows without one.",
    )

    cadence_file: Path | None = Field(
        default=None,
        description="A cadence YAML file of your own (steps, waits, send window, the timing experiment); "
        "unset: the shipped default, which the README shows.",
    )

    # --- what messages say when a row leaves it out (followup.rendering.COMPANY_DEFAULT_KEYS) ---
    company: str | None = Field(default=None, description="Company name for rows without one.")
    office: str | None = Field(
        default=None,
        description="The company's office address: where an in-person meeting is held when a row has "
        "no meeting_location.",
    )
    phone: str | None = Field(
        default=None, description="Company call-back number for voicemails when a row has no recruiter_phone."
    )
    locale: str | None = Field(default=None, description="Locale for rows without one (e.g. en_GB).")
    meeting_minutes: int | None = Field(
        default=None, ge=5, le=480, description="Length of an in-person meeting in the calendar invite, in minutes; unset: 60."
    )
    unsubscribe_url: str | None = Field(
        default=None,
        description="Public base URL of the unsubscribe links that `followup serve` answers (e.g. "
        "https://jobs.example.com/unsubscribe); keep-in-touch mail is not written without it.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The secret that signs unsubscribe links; every sender and `followup serve` must share it. "
        "Unset on a SQLite ledger: made on first use and kept in the data dir; required on any other ledger.",
    )

    secret_blocks: bool = Field(
        default=False,
        description="Read each secret the environment leaves unset from a Prefect Secret block of the Prefect API "
        "the flows use (flows/secret_blocks.py: sendgrid-api-key, followup-secret-key, followup-inbound-token, "
        "followup-smtp-password, followup-database-url).",
    )

    # NoDecode: the variable is comma-separated text, not the JSON list pydantic-settings expects.
    variants_off: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="A/B template variants not to send, comma-separated <kind>.<variant> (e.g. offer.b, the shipped "
        "subject-line test): that kind's messages get one of its other variants, the base (a) at least.",
    )

    # --- sending (DESIGN.md, Configuration) ---
    transport: Literal["sendgrid", "smtp", "file", "memory"] | None = Field(
        default=None,
        description="How email leaves: sendgrid (needs SENDGRID_API_KEY), smtp, file (.eml files under "
        "the data dir), memory (tests). Unset: sendgrid when a key is set, else sending refuses.",
    )
    sendgrid_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SENDGRID_API_KEY"),
        description="SendGrid API key with Mail Send permission.",
    )
    sendgrid_api_host: str = Field(
        default="https://api.sendgrid.com",
        validation_alias=AliasChoices("SENDGRID_API_HOST"),
        description="SendGrid's API; a localhost URL for `followup sandbox`.",
    )
    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SENDGRID_WEBHOOK_PUBLIC_KEY"),
        description="The Signed Event Webhook's verification key, as SendGrid's Mail Settings show it (base64); "
        "`followup serve` refuses every event POST without it.",
    )
    sandbox_webhook_url: str | None = Field(
        default=None,
        description="Where `followup sandbox` posts its signed events, e.g. http://127.0.0.1:8025/webhooks/sendgrid/events.",
    )
    sandbox_inbound_url: str | None = Field(
        default=None,
        description="Where `followup sandbox` posts its candidates' replies as Inbound Parse would, e.g. "
        "http://127.0.0.1:8025/webhooks/sendgrid/inbound/<FOLLOWUP_INBOUND_TOKEN>.",
    )
    inbound_token: SecretStr | None = Field(
        default=None,
        description="The secret path segment of the Inbound Parse URL that `followup serve` answers "
        "(/webhooks/sendgrid/inbound/<token>); unset: every Inbound Parse POST is refused.",
    )
    reply_domain: str | None = Field(
        default=None,
        description="A domain whose mail SendGrid's Inbound Parse receives (an MX record to mx.sendgrid.net): "
        "each email's Reply-To becomes a signed per-message address there, so replies are read and tracked. "
        "Unset: replies reach the recruiter's inbox only and are not tracked.",
    )
    sendgrid_timeout_s: float = Field(default=30.0, gt=0, description="Seconds one SendGrid request may take.")
    from_email: str | None = Field(default=None, description="The authenticated sender address.")
    from_name: str | None = Field(default=None, description="The sender's display name.")
    track_engagement: bool = Field(
        default=True,
        description="Ask SendGrid to track opens and clicks of every email (its tracking_settings); off: "
        "each email asks for no tracking. Voicemails are never tracked.",
    )
    warm_open_days: int = Field(
        default=2, ge=1, description="Human opens on this many different days make a candidate warm (a click does at once)."
    )
    machine_open_seconds: float = Field(
        default=10.0,
        ge=0,
        description="An open or click this soon after delivery is a machine's (a proxy's pre-fetch, a link scanner).",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for the smtp transport.")
    smtp_port: int = Field(default=587, description="SMTP port (587: submission with STARTTLS).")
    smtp_username: str | None = Field(default=None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_require_tls: bool = Field(default=True, description="Refuse to send over SMTP without STARTTLS.")
    suppression_file: Path | None = Field(
        default=None,
        description="Your do-not-contact list (one address per line, or a CSV with an email column), "
        "read before every send.",
    )
    send_rate: float | None = Field(default=None, gt=0, description="At most this many messages a second; unset: no limit.")
    daily_cap: int | None = Field(
        default=None, ge=0, description="At most this many emails a day (the company's day); unset: no cap."
    )
    send_concurrency: int = Field(default=128, ge=1, le=1024, description="Requests in flight per sender process.")
    senders: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Sender processes a big send starts: each sends under its own interpreter lock, "
        "so about one per core sends fastest. Fewer due than 40 x send_concurrency go out from one process.",
    )
    render_processes: int = Field(
        default=2, ge=1, le=64, description="Processes that render a big campaign (10,000 messages or more)."
    )
    max_attempts: int = Field(default=8, ge=1, description="Attempts before a retryable message fails.")
    pause_after_failures: int = Field(
        default=50, ge=0, description="Pause a campaign after this many failures in a row; 0: never."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Paths we print and store must still work from another working directory.
        return value.expanduser().resolve()

    @field_validator("cadence_file", mode="before")
    @classmethod
    def _existing_cadence_file(cls, value: object) -> object:
        if value in (None, ""):  # FOLLOWUP_CADENCE_FILE= (empty): the shipped default
            return None
        path = Path(str(value)).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"{value} is not a file" if path.exists() else f"{value} does not exist")
        return path

    @field_validator("unsubscribe_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        # The link goes into mail and a List-Unsubscribe header: a mail client follows only http(s).
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, e.g. https://jobs.example.com/unsubscribe")
        return value or None

    @field_validator("variants_off", mode="before")
    @classmethod
    def _variant_names(cls, value: object) -> tuple[str, ...]:
        given = value.split(",") if isinstance(value, str) else value or ()
        names = sorted({str(name).strip() for name in given if str(name).strip()})
        for name in names:
            kind, _, variant = name.partition(".")
            if kind not in KINDS or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", variant):
                raise ValueError(f"{name!r} is not <kind>.<variant> for a kind of {', '.join(KINDS)}, e.g. offer.b")
            if variant == BASE_VARIANT:
                raise ValueError(f"{name!r}: the base variant ({BASE_VARIANT}) is always sent; name the others")
        return tuple(names)

    @field_validator("secret_key")
    @classmethod
    def _no_empty_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty key would sign links anyone can make: as good as none, so it counts as unset.
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("inbound_token")
    @classmethod
    def _long_inbound_token(cls, value: SecretStr | None) -> SecretStr | None:
        # The token is all that stands between the internet and the reply store (Inbound Parse
        # signs nothing), and it travels in a URL path: long, and URL-safe.
        if value is None or not value.get_secret_value():
            return None
        token = value.get_secret_value()
        if len(token) < 24 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
            raise ValueError(
                "must be at least 24 URL-safe characters (letters, digits, - and _), e.g. the output of "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @field_validator("reply_domain")
    @classmethod
    def _domain_name(cls, value: str | None) -> str | None:
        if not value:
            return None
        domain = value.strip().lower().rstrip(".")
        if "@" in domain or not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]", domain):
            raise ValueError(f"{value!r} is not a domain name (e.g. replies.example.com)")
        return domain

    @property
    def tracks_replies(self) -> bool:
        """Replies are read and tracked: they go to per-message addresses at FOLLOWUP_REPLY_DOMAIN."""
        return self.reply_domain is not None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin)") from None
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        # The renderer falls back to English for a locale it cannot read: say so now, not never.
        if not value:
            return None
        # Imported only for a locale to check: the renderer costs every command half a second to load.
        from followup.rendering.formatting import normalise_locale

        if normalise_locale(value) is None:
            raise ValueError(f"{value!r} is not a locale (e.g. en_GB, de_DE, pt-BR)")
        return value

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str | None) -> str | None:
        return value.strip().upper() if value else None

    def company_defaults(self) -> dict[str, str | int]:
        """The company defaults the renderer fills a row's gaps with (only those that are set)."""
        values = {
            "company": self.company,
            "office": self.office,
            "phone": self.phone,
            "locale": self.locale,
            "timezone": self.timezone,
            "country": self.country,
            "meeting_minutes": self.meeting_minutes,
        }
        return {key: value for key, value in values.items() if value not in (None, "")}

    @property
    def ledger_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'followup.db'}"

    @property
    def secret_key_file(self) -> Path:
        """Where a SQLite ledger's signing secret is kept when FOLLOWUP_SECRET_KEY is unset: beside
        the ledger's file, so every process on that ledger (whatever its FOLLOWUP_DATA_DIR) signs and
        checks links with the same key."""
        import sqlalchemy as sa  # only when asked: settings load in every process

        database = sa.make_url(self.ledger_url).database
        if database and database != ":memory:":
            return Path(database).expanduser().resolve().parent / "secret_key"
        return self.data_dir / "secret_key"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def docs_dir(self) -> Path:
        return self.data_dir / "docs"

    @property
    def outbox_dir(self) -> Path:
        """Where the file transport writes .eml files."""
        return self.data_dir / "outbox"

    @property
    def call_sheet_dir(self) -> Path:
        """Where voicemail messages land, one CSV per day for the recruiter to call from."""
        return self.data_dir / "call_sheets"


class SecretsUnreadable(RuntimeError):
    """Secrets the settings say to read elsewhere (FOLLOWUP_SECRET_BLOCKS: Prefect's API) could not
    be read: a failure of that service, not a bad setting; nothing runs without them."""


class SettingsInvalid(ValueError):
    """Settings that cannot be used: one line per problem, by the variable's name."""


def load_settings(settings_file: Path | None = None, **values: object) -> Settings:
    """Read the settings once, at the entry point: the environment, `settings_file` if any, and
    `values` found elsewhere (Prefect Secret blocks), checked alike. Raises SettingsInvalid."""
    try:
        return Settings(_env_file=settings_file, **values)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsInvalid("\n".join(_problem(error) for error in exc.errors())) from None


def _problem(error: ErrorDetails) -> str:
    """`FOLLOWUP_SENDERS='0': Input should be greater than or equal to 1`. pydantic's own text
    quotes every value it was given, a secret's too (an API key, a token, a database password),
    and names fields rather than the variables a user sets."""
    given_as = str(error["loc"][0]) if error["loc"] else ""
    variable, secret = _variable(given_as)
    given = "" if secret or "input" not in error else f"={error['input']!r}"
    return f"{variable}{given}: {error['msg'].removeprefix('Value error, ')}"


def _variable(given_as: str) -> tuple[str, bool]:
    """The variable a setting is read from, by its field name or its alias, and whether its value
    is a secret (unknown: taken for one)."""
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias.choices[0] if isinstance(alias, AliasChoices) else f"FOLLOWUP_{name.upper()}"
        if given_as in (name, variable):
            return variable, name == "database_url" or SecretStr in (field.annotation, *get_args(field.annotation))
    return given_as, True
