"""The validation gate: stages run alone (graph, train, score, publish) only on a date whose data passed validation."""

from __future__ import annotations

from datetime import date

from leadgraph.config import Settings
from leadgraph.errors import NotValidated
from leadgraph.sql import sql
from leadgraph.warehouse import connect


def validation_verdict(settings: Settings, as_of: date) -> tuple[bool, str]:
    """(passed, reason) of the latest validation run covering D (as of D or later)."""
    if not settings.paths.warehouse.exists():
        return False, "there is no warehouse yet"
    with connect(settings.paths.warehouse, read_only=True) as con:
        rows = con.execute(sql("validate/verdict"), {"d": as_of}).fetchall()
    if not rows:
        return False, f"{as_of} has not been validated"
    checked_as_of, success, reasons = rows[0]
    if success:
        return True, f"validation as of {checked_as_of} passed"
    return False, f"validation as of {checked_as_of} failed: {reasons or 'see meta.validation_results'}"


def require_validated(settings: Settings, as_of: date, force: bool = False) -> None:
    """Raise NotValidated unless D's data passed validation or `force` is set."""
    passed, reason = validation_verdict(settings, as_of)
    if not passed and not force:
        raise NotValidated(f"refusing to work on {as_of}: {reason}",
                           f"fix the data and run `leadgraph validate --as-of {as_of}`, or pass --force")
