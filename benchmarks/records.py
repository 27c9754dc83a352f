"""Finished benchmark runs, one JSON line each beside a results page, so a long benchmark can resume.

A record carries a `settings` key (a short hash of everything that shapes its result); records made under
other settings are never reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def page_under(results: Path, name: str) -> Path:
    """The results page `name` under `results`; ValueError unless it is a plain file name ending in .md."""
    if Path(name).name != name or not name.endswith(".md"):
        raise ValueError(f"--page must be a file name ending in .md, got {name!r}")
    return results / name


def settings_key(text: str) -> str:
    """A short, stable hash of a settings description."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_all(path: Path) -> list[dict]:
    """Every record of `path`, oldest first; empty when the file is absent."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_records(path: Path, key: str) -> list[dict]:
    """The records of `path` made under settings `key`, oldest first; empty when the file is absent."""
    return [r for r in read_all(path) if r["settings"] == key]


def append_record(path: Path, record: dict) -> None:
    """Add one finished run to `path`."""
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
