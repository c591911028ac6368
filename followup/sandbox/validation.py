"""What SendGrid refuses in a POST /v3/mail/send body: its published schema, and the limits it enforces.

The schema is SendGrid's own OpenAPI document (followup/schemas/tsg_mail_v3.json), validated with
jsonschema's Draft 2020-12 validator over a registry of the whole document, because its `$ref`s
point into `components`. The limits are the ones the live service enforces but the schema does
not spell out; they are cheap, so every body is checked against them, while the schema (about
0.6 ms a body) may be checked on a sample under load.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from importlib.resources import files
from typing import Any

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SCHEDULE_AHEAD_SECONDS = 72 * 3600

_SCHEMA_URI = "urn:followup:sendgrid:tsg_mail_v3"
_POST_MAIL_SEND = "/components/requestBodies/PostMailSend/content/application~1json/schema"

Problem = dict[str, Any]  # one entry of SendGrid's {"errors": [...]} list


def problem(message: str, field: str | None = None) -> Problem:
    return {"message": message, "field": field, "help": None}


@lru_cache(maxsize=1)
def _validator():
    """Compiled once per process: building it costs milliseconds, reusing it nothing."""
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    document = json.loads(files("followup").joinpath("schemas", "tsg_mail_v3.json").read_text("utf-8"))
    body = document["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    # The spec types top-level custom_args as a string; the live API and the official client
    # send an object of strings, and SendGrid refuses any other value type.
    body["properties"]["custom_args"] = {"type": "object", "additionalProperties": {"type": "string"}}
    registry = Registry().with_resource(_SCHEMA_URI, DRAFT202012.create_resource(document))
    return Draft202012Validator(
        {"$ref": f"{_SCHEMA_URI}#{_POST_MAIL_SEND}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def load_validator() -> None:
    """Compile the schema now, so the first request does not pay for it."""
    _validator()


def schema_problems(body: Any) -> list[Problem]:
    """Every place the body departs from SendGrid's schema, named by a dotted field path."""
    problems = []
    for error in sorted(_validator().iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            path += missing[:1]
        problems.append(problem(error.message, ".".join(path) or None))
    return problems


def limit_problems(body: dict[str, Any], now: float | None = None) -> list[Problem]:
    """SendGrid's limits, checked defensively: a body skipped by the schema sample may be any shape."""
    now = time.time() if now is None else now
    problems: list[Problem] = []
    personalizations = body.get("personalizations")
    personalizations = personalizations if isinstance(personalizations, list) else []
    if len(personalizations) > MAX_PERSONALIZATIONS:
        problems.append(
            problem(f"The personalizations array may hold at most {MAX_PERSONALIZATIONS} objects.", "personalizations")
        )
    recipients = sum(
        len(p[kind])
        for p in personalizations
        if isinstance(p, dict)
        for kind in ("to", "cc", "bcc")
        if isinstance(p.get(kind), list)
    )
    if recipients > MAX_RECIPIENTS:
        problems.append(
            problem(f"A request may address at most {MAX_RECIPIENTS} recipients (to, cc and bcc).", "personalizations")
        )
    categories = body.get("categories")
    if isinstance(categories, list) and len(categories) > MAX_CATEGORIES:
        problems.append(problem(f"A message may have at most {MAX_CATEGORIES} categories.", "categories"))

    top_args = body.get("custom_args") if isinstance(body.get("custom_args"), dict) else {}
    scopes: list[tuple[str, dict]] = [("custom_args", top_args)]
    for index, p in enumerate(personalizations):
        if isinstance(p, dict) and isinstance(p.get("custom_args"), dict):
            # SendGrid merges personalization arguments over the message's; the limit is on the merge.
            scopes.append((f"personalizations.{index}.custom_args", {**top_args, **p["custom_args"]}))
    for field, args in scopes:
        if _json_size_reaches(args, MAX_CUSTOM_ARGS_BYTES):
            problems.append(problem(f"custom_args must be under {MAX_CUSTOM_ARGS_BYTES:,} bytes.", field))

    send_ats = [("send_at", body.get("send_at"))] + [
        (f"personalizations.{index}.send_at", p.get("send_at"))
        for index, p in enumerate(personalizations)
        if isinstance(p, dict)
    ]
    for field, send_at in send_ats:
        if isinstance(send_at, int) and send_at > now + MAX_SCHEDULE_AHEAD_SECONDS:
            problems.append(problem("A send cannot be scheduled more than 72 hours in advance.", field))
    return problems


def _json_size_reaches(args: dict[str, Any], limit: int) -> bool:
    """Whether the compact UTF-8 JSON of `args` is `limit` bytes or more.

    Every body pays for this check, so a cheap upper bound settles the usual small case: a
    string character takes at most 6 bytes in JSON (a control character as \\u00XX), and each
    pair adds quotes, a colon and a comma.
    """
    if all(isinstance(value, str) for value in args.values()):
        bound = 2 + sum(6 * (len(key) + len(value)) + 6 for key, value in args.items())
        if bound < limit:
            return False
    return len(json.dumps(args, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) >= limit
