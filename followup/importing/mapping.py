"""A user's --mapping file (JSON or two-column CSV) from their headers to canonical columns."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path

from .columns import _CANONICAL, normalise_header
from .detect import _bom_codec, _sniff_delimiter
from .refusal import ImportRefused


def load_mapping(path: Path) -> dict[str, str]:
    """Read a user mapping: a JSON object {"Their Header": "canonical"} or a two-column CSV.

    An empty target ("" or JSON null) means "not a canonical column": the column stays an extra.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused("bad_mapping", f"Cannot read the mapping file {path}: {exc.strerror or exc}.") from None
    text = _decode_small(data)
    if text.lstrip().startswith("{"):
        pairs = _json_pairs(text, path)
    else:
        pairs = _csv_pairs(text, path)
    if not pairs:
        raise ImportRefused("bad_mapping", f"The mapping file {path.name} maps no columns.")
    mapping: dict[str, str] = {}
    for source, target in pairs:
        if source in mapping and mapping[source] != target:
            raise ImportRefused(
                "bad_mapping",
                f'The mapping file {path.name} maps "{source}" twice (to "{mapping[source]}" and to "{target}").',
            )
        mapping[source] = target
    return _checked_mapping(mapping, f"file {path.name}")


def _decode_small(data: bytes) -> str:
    for codec in (_bom_codec(data) or "utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # decodes any bytes


def _json_pairs(text: str, path: Path) -> list[tuple[str, str]]:
    try:
        document = json.loads(text, object_pairs_hook=list)
    except ValueError as exc:
        raise ImportRefused("bad_mapping", f"The mapping file {path.name} is not valid JSON: {exc}.") from None
    if not isinstance(document, list) or not all(
        isinstance(source, str) and (target is None or isinstance(target, str)) for source, target in document
    ):
        raise ImportRefused(
            "bad_mapping",
            f"The mapping file {path.name} must be one JSON object of header names to column names, "
            f'e.g. {{"Mail": "email"}}.',
        )
    return [(source.strip(), (target or "").strip()) for source, target in document]


# A first row of these words is the mapping CSV's own header, not a mapping.
_MAPPING_SOURCE_WORDS = frozenset({"source", "from", "header", "their_header", "source_header", "column"})
_MAPPING_TARGET_WORDS = frozenset({"target", "to", "canonical", "canonical_column", "maps_to", "column"})


def _csv_pairs(text: str, path: Path) -> list[tuple[str, str]]:
    first_line = next((line for line in re.split(r"\r\n|\r|\n", text) if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    pairs = []
    for number, row in enumerate(rows):
        cells = [cell.strip() for cell in row]
        if any(cells[2:]):
            raise ImportRefused(
                "bad_mapping",
                f"The mapping file {path.name} must have two columns (their header, our column); "
                f"this row has more: {', '.join(row)}",
            )
        source, target = (cells + ["", ""])[:2]
        if (
            number == 0
            and normalise_header(source) in _MAPPING_SOURCE_WORDS
            and normalise_header(target) in _MAPPING_TARGET_WORDS
        ):
            continue
        pairs.append((source, target))
    return pairs


def _checked_mapping(
    mapping: Mapping[str, str | None], where: str, canonical: tuple[str, ...] = _CANONICAL
) -> dict[str, str]:
    checked = {}
    unknown = []
    for source, target in mapping.items():
        target = (target or "").strip()
        target_column = normalise_header(target) if target else ""
        if target_column and target_column not in canonical:
            unknown.append(f'"{source}" -> "{target}"')
        checked[source] = target_column
    if unknown:
        raise ImportRefused(
            "bad_mapping",
            f"The mapping {where} names columns that do not exist: {'; '.join(unknown)}. "
            f"Valid columns: {', '.join(canonical)} (or an empty target to ignore a column).",
        )
    return checked
