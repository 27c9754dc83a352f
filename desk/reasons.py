"""The numbers behind each reason code of a lead, from the facts the desk snapshot keeps for every listed customer."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tasks.reason_codes import BY_CODE, SEPARATOR


def _num(value: Any, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{float(value):,.{digits}f}"


def _facts(code: str, facts: dict[str, Any], lead: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs that back one reason code."""
    f = facts
    table = {
        "R01_SHIP_GROWTH": [("shipments in the previous window", _num(f.get("ship_previous"))),
                            ("shipments in the last window", _num(f.get("ship_recent")))],
        "R02_CONTRACT_PARTNERS": [("shipping partners with a contract", _num(f.get("partner_contracts")))],
        "R03_SHARED_ACCOUNT_INTEREST": [("account co-holders with high interest", _num(f.get("shared_interest")))],
        "R04_COMPANY_SIGNED": [("other customers of its company with a contract", _num(f.get("company_signers")))],
        "R05_STATION_PEERS": [("contract customers at its station", _num(f.get("station_contracts"))),
                              ("station contract density", _num(f.get("station_density"), 4)),
                              ("network contract density", _num(f.get("overall_density"), 4))],
        "R06_RECENT_ACTIVITY": [("days since its last shipment", _num(f.get("days_since_shipment")))],
        "R07_CONTRACT_RANK": [("p(contract within 90 days)", _num(lead.get("p_contract"), 6))],
        "R08_INTEREST_RANK": [("p(high interest within 30 days)", _num(lead.get("p_high_interest"), 6))],
        "R09_OVERALL_SCORE": [("score (0-100)", _num(lead.get("score"), 2))],
    }
    return table.get(code, [])


def reason_rows(lead: dict[str, Any], facts: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each of the lead's reasons: its sentence, code, the rule behind it and its numbers."""
    codes = str(lead.get("reason_codes") or "").split(SEPARATOR)
    rows = []
    for i in range(1, 4):
        sentence = lead.get(f"reason_{i}")
        if sentence is None or pd.isna(sentence):
            continue
        code = codes[i - 1] if i - 1 < len(codes) else ""
        known = BY_CODE.get(code)
        rows.append({"sentence": sentence, "code": code, "rule": known.fact if known else "",
                     "numbers": _facts(code, facts or {}, lead)})
    return rows
