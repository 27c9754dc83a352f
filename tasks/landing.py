"""Find and inspect landing files: partition folders, checksums, encodings, CSV headers, Parquet footers."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

CHUNK_BYTES = 8 << 20
HEADER_PEEK_BYTES = 1 << 16
PARTITION_NAME = re.compile(r"dt=\d{4}-\d{2}-\d{2}")
# Leading bytes of formats that sometimes arrive under a .csv name.
BINARY_SIGNATURES = {b"\x1f\x8b": "gzip-compressed data", b"PK\x03\x04": "a zip archive", b"PAR1": "a Parquet file",
                     b"BZh": "bzip2-compressed data", b"\x28\xb5\x2f\xfd": "zstd-compressed data",
                     b"\xff\xfe": "UTF-16 text", b"\xfe\xff": "UTF-16 text"}


@dataclass(frozen=True)
class LandingFile:
    """One delivered file of one table's daily partition."""

    table: str
    dt: date
    path: Path
    rel: str
    fmt: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Fingerprint:
    """A file's content checksum and, for text, where it first stops being UTF-8."""

    sha256: str
    bad_utf8_offset: int | None = None
    bad_utf8_line: int | None = None


@dataclass(frozen=True)
class Shape:
    """What a file says about itself before it is read: its columns and whether it holds any data."""

    columns: tuple[str, ...]
    has_data: bool
    schema_key: tuple = ()


class UnreadableFile(Exception):
    """A landing file that cannot be read at all (empty, truncated, not the declared format)."""


def partition_date(folder: Path) -> date | None:
    """The date of a `dt=YYYY-MM-DD` folder, or None for any other name (`dt=20251231` included)."""
    if not PARTITION_NAME.fullmatch(folder.name):
        return None
    try:
        return date.fromisoformat(folder.name[3:])
    except ValueError:
        return None


def discover(landing: Path, table: str, fmt: str) -> tuple[list[LandingFile], list[str]]:
    """Every file of a table's partitions, in date and name order, and complaints about anything else found."""
    files: list[LandingFile] = []
    problems: list[str] = []
    root = landing / table
    if not root.is_dir():
        return files, problems
    for folder in sorted(root.iterdir()):
        rel_folder = folder.relative_to(landing).as_posix()
        day = partition_date(folder)
        if day is None or not folder.is_dir():
            problems.append(f"{rel_folder}: not a dt=YYYY-MM-DD partition folder; ignored")
            continue
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(landing).as_posix()
            if path.name.startswith((".", "_")):
                continue
            if path.suffix != f".{fmt}" or not path.is_file():
                problems.append(f"{rel}: {table} is delivered as .{fmt}; this file is ignored")
                continue
            stat = path.stat()
            files.append(LandingFile(table, day, path, rel, fmt, stat.st_size, stat.st_mtime_ns))
    return files, problems


def fingerprint(path: Path, check_utf8: bool) -> Fingerprint:
    """SHA-256 of the file in one streaming pass, noting the first byte that is not UTF-8 when asked."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
    offset = 0
    newlines = 0
    bad_offset = bad_line = None
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as err:
                    bad_offset = offset + err.start
                    bad_line = newlines + chunk.count(b"\n", 0, err.start) + 1
                    decoder = None
                newlines += chunk.count(b"\n")
            offset += len(chunk)
    return Fingerprint(digest.hexdigest(), bad_offset, bad_line)


def csv_shape(path: Path, delimiter: str) -> Shape:
    """The header of a CSV file and whether any data follows it."""
    with path.open("rb") as handle:
        head = handle.read(HEADER_PEEK_BYTES)
    if not head.strip():
        raise UnreadableFile("empty file: no header and no rows")
    for signature, kind in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise UnreadableFile(f"{kind}, not CSV text, under a .csv name: deliver the plain CSV")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise UnreadableFile(f"binary data, not CSV text (NUL byte at offset {nul})")
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    first_line, _, rest = text.partition("\n")
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter), [])
    return Shape(tuple(name.strip() for name in header), bool(rest.strip()), ())


def parquet_shape(path: Path) -> tuple[Shape, int, dict[str, str]]:
    """Columns, row count and Arrow types of a Parquet file, from its footer."""
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except Exception as err:  # pyarrow raises several types for damaged footers; all mean the same here
        raise UnreadableFile(f"not a readable Parquet file ({type(err).__name__}: {err})") from err
    types = {field.name: str(field.type) for field in schema}
    key = tuple(sorted(types.items()))
    return Shape(tuple(schema.names), meta.num_rows > 0, key), meta.num_rows, types
