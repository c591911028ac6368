"""What a CSV file is written in: its encoding, its delimiter and where its content starts."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from .batch import _WHITESPACE

_DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 20


def _bom_codec(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """Text in UTF-16 without a byte order mark shows as NUL in every other byte."""
    even, odd = head[0:4096:2], head[1:4096:2]
    if len(odd) < 2:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _decodes(path: Path, codec: str) -> bool:
    if codec in ("utf-8", "utf-8-sig"):
        return _is_utf8(path)
    decoder = codecs.getincrementaldecoder(codec)("strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8(path: Path) -> bool:
    """Strict UTF-8 check of the whole file with Arrow's validator: several times faster than decoding."""
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            data = carry + chunk
            end = _whole_characters(data)
            if not _valid_utf8(data[:end]):
                return False
            carry = data[end:]
    return _valid_utf8(carry)


def _whole_characters(data: bytes) -> int:
    """The length of data without a multi-byte character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if needed <= back else len(data) - back
    return len(data)


def _valid_utf8(data: bytes) -> bool:
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    candidate = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        candidate.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _detect_encoding(path: Path, head: bytes) -> str:
    """Believe a byte order mark, then strict UTF-8 over the whole file, then cp1252, then latin-1."""
    evidence = _bom_codec(head) or _utf16_without_bom(head)
    for codec in (*([evidence] if evidence else []), "utf-8", "cp1252"):
        if _decodes(path, codec):
            return codec
    return "latin-1"  # decodes any bytes


_QUOTED = re.compile(r'"[^"]*(?:""[^"]*)*"')


def _sniff_delimiter(line: str) -> str:
    """The candidate that splits the header line into most cells (quoted text ignored)."""
    unquoted = _QUOTED.sub("", line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


_SEP_LINE = re.compile(r"sep=([,;\t|]) *", re.IGNORECASE)


def _first_content_line(text: str) -> tuple[str, str | None]:
    """The first line that is not blank, and the delimiter Excel's "sep=X" first line declares."""
    lines = re.split(r"\r\n|\r|\n", text)
    declared = _SEP_LINE.fullmatch(lines[0])
    if declared:
        return "", declared.group(1)
    for line in lines:
        if line.strip(_WHITESPACE + "".join(_DELIMITERS) + '"'):
            return line, None
    return "", None
