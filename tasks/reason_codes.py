"""The reason codes of the lead lists: stable codes, the fact behind each, and its plain-English sentence.

Codes are part of the published contract (column `reason_codes`): never renumber or reuse one; add new
codes at the end. README section "Reason codes" documents the same table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReasonCode:
    """One reason: its code, the model relations it speaks for, when it applies, and its sentence template."""

    code: str
    relations: tuple[str, ...]  # StrucHIS relations into a customer whose attention weighs this reason; () = own activity
    fact: str  # when the reason applies (documentation)
    template: str  # str.format over the fact columns of sql/explain/facts.sql plus derived values
    fallback: bool = False  # model-rank reasons that fill the list when fewer than three facts apply


REASON_CODES: tuple[ReasonCode, ...] = (
    ReasonCode("R01_SHIP_GROWTH", (),
               "at least explain.min_recent_shipments shipments in the last explain.growth_window_days days and at least "
               "explain.min_growth_ratio times as many as in the window before",
               "Shipments up from {ship_previous} to {ship_recent} in the last {window} days"),
    ReasonCode("R02_CONTRACT_PARTNERS", ("ships_to", "receives_from"),
               "ships with (sends to or receives from) at least explain.min_partner_contracts customers who signed a contract",
               "Ships with {partner_contracts} contract customer(s)"),
    ReasonCode("R03_SHARED_ACCOUNT_INTEREST", ("held_by",),
               "shares a payment account with at least explain.min_shared_accounts customers who showed high interest",
               "Shares an account with {shared_interest} high-interest customer(s)"),
    ReasonCode("R04_COMPANY_SIGNED", ("has_member",),
               "at least explain.min_company_signers other customers of the same company signed a contract",
               "{company_signers} other customer(s) of its company signed a contract"),
    ReasonCode("R05_STATION_PEERS", ("serves",),
               "the contract density at its station is at least explain.station_density_factor times the network's",
               "Station peers are signing: {station_contracts} contracts at its station, {density_ratio:.1f}x the network average"),
    ReasonCode("R06_RECENT_ACTIVITY", (),
               "shipped within the last explain.recent_activity_days days",
               "Active: last shipment {days_since_shipment} day(s) ago"),
    ReasonCode("R07_CONTRACT_RANK", (), "always (fills the list): the model's contract-signing rank among today's prospects",
               "Model: top {contract_top_pct}% of today's prospects for signing a contract", fallback=True),
    ReasonCode("R08_INTEREST_RANK", (), "always (fills the list): the model's high-interest rank among today's prospects",
               "Model: top {interest_top_pct}% of today's prospects for high interest", fallback=True),
    ReasonCode("R09_OVERALL_SCORE", (), "always (fills the list): the combined score",
               "Model: scores above {score_pct}% of today's prospects", fallback=True),
    ReasonCode("R10_SHARED_INTEREST_SIGNAL", (),
               "StrucHIS only: on the relation the customer's contract score attends to most, the contract task's "
               "gate takes at least explain.min_shared_signal of its message from the high-interest task",
               "Its {shared_relation} look like those of high-interest customers ({shared_pct}% of the contract "
               "model's signal there comes from the interest model)"),
    ReasonCode("R11_OWN_INTEREST", (),
               "its own latest high-interest event (up to D) was at most explain.own_interest_days days ago",
               "Showed high interest {days_since_interest} day(s) ago"),
    ReasonCode("R12_PEERS_USE_OFFER", ("ships_to", "receives_from", "has_member", "held_by"),
               "publish only: a shipping partner, company sibling or account co-holder had adopted the lead's first "
               "offer (offer_1) by D; it follows the fact reasons and the last model-rank reason makes room",
               "Its shipping partners, company or account co-holders use {offer_1}"),
)
BY_CODE: dict[str, ReasonCode] = {r.code: r for r in REASON_CODES}
SEPARATOR = "|"
# How R10 names a relation into a customer (a message travels from the first to the second type).
RELATION_PHRASES: dict[str, str] = {
    "ships_to": "shipping senders", "receives_from": "consignees", "held_by": "payment accounts",
    "has_member": "company ties", "serves": "station ties", "self": "own shipping profile",
}


def markdown_table() -> str:
    """The README table of reason codes, generated from REASON_CODES so the two cannot disagree."""
    lines = ["| code | applies when | sentence | model relation |", "|---|---|---|---|"]
    for r in REASON_CODES:
        lines.append(f"| `{r.code}` | {r.fact} | {r.template} | {', '.join(r.relations) or '-'} |")
    return "\n".join(lines)
