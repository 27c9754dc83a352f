"""Load SQL statements from the repository's `sql/` folder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def sql(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. sql("graph/customer_features")."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
