"""One typed Settings object, read from the environment at the entry point only.

Everything below the entry point receives the values it needs as arguments, so tests and
Prefect tasks never depend on the process environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        description="A batch with more than this share of bad rows is refused whole.",
    )
    country: str | None = Field(
        default=None,
        description="Company default country (ISO 3166 alpha-2), used to read national phone numbers.",
    )

    timezone: str | None = Field(
        default=None,
        description="Company default IANA time zone, for rows without one.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Paths we print and store must still work from another working directory.
        return value.expanduser().resolve()

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str | None) -> str | None:
        return value.strip().upper() if value else None

    @property
    def ledger_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'followup.db'}"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def docs_dir(self) -> Path:
        return self.data_dir / "docs"


def load_settings(settings_file: Path | None = None) -> Settings:
    """Read the settings once, at the entry point."""
    if settings_file is not None:
        return Settings(_env_file=settings_file)  # type: ignore[call-arg]
    return Settings()
