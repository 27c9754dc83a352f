"""Reason selection and the champion/challenger rule as plain functions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadgraph.config import Settings
from models.training import FitResult
from tasks.evaluate import beats, decide
from tasks.explain import candidates, choose, sentences
from tasks.quality_gate import GateResult
from tasks.reason_codes import REASON_CODES, markdown_table


def _facts(**columns: list) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"customer_id": list(range(1, n + 1)), "ship_recent": [0] * n, "ship_previous": [0] * n,
            "days_since_shipment": [np.nan] * n, "partner_contracts": [0] * n, "shared_interest": [0] * n,
            "company_signers": [0] * n, "station_contracts": [0] * n, "station_density": [0.0] * n,
            "overall_density": [0.01] * n, "contract_rank": [0.995] * n, "interest_rank": [0.5] * n,
            "score_rank": [0.9] * n}
    base.update(columns)
    return pd.DataFrame(base)


def test_facts_come_first_in_model_weight_order_and_fallbacks_fill(settings: Settings) -> None:
    facts = _facts(partner_contracts=[2, 2, 0], company_signers=[1, 1, 0], ship_recent=[10, 10, 0], ship_previous=[2, 2, 0])
    eligible, strength = candidates(facts, settings)
    assert eligible.loc[0, "R01_SHIP_GROWTH"] and eligible.loc[0, "R02_CONTRACT_PARTNERS"] and not eligible.loc[2].any()
    names = ["ships_to", "receives_from", "held_by", "serves", "has_member"]
    # Row 0: the company relation dominates the attention; row 1: shipping does.
    relations = pd.DataFrame([[0.2, 0.2, 1.0, 1.0, 2.6], [2.0, 2.0, 0.4, 0.3, 0.3], [1.0] * 5], columns=names)
    codes = choose(eligible, strength, relations)
    assert codes[0, 0] == "R04_COMPANY_SIGNED" and codes[1, 0] == "R02_CONTRACT_PARTNERS"
    assert codes[2].tolist() == ["R07_CONTRACT_RANK", "R08_INTEREST_RANK", "R09_OVERALL_SCORE"]
    # Without relation attention the same facts are chosen, in a deterministic order.
    again = choose(eligible, strength, None)
    assert set(again[0]) == {"R01_SHIP_GROWTH", "R02_CONTRACT_PARTNERS", "R04_COMPANY_SIGNED"}
    np.testing.assert_array_equal(again, choose(eligible, strength, None))
    text = sentences(codes, facts, settings)
    assert text.loc[1, "reason_1"] == "Ships with 2 contract customer(s)"
    assert text.loc[2, "reason_1"] == "Model: top 1% of today's prospects for signing a contract"
    assert text.loc[0, "reason_codes"].count("|") == 2


def test_a_shared_interest_signal_becomes_a_reason_by_its_share_and_attention(settings: Settings) -> None:
    facts = _facts(partner_contracts=[1, 1, 1], shared_relation=["held_by", "held_by", "serves"],
                   shared_share=[0.9, 0.3, np.nan], shared_attention=[3.0, 3.0, 1.0])
    eligible, strength = candidates(facts, settings)
    assert eligible["R10_SHARED_INTEREST_SIGNAL"].tolist() == [True, False, False]
    codes = choose(eligible, strength, None)
    # A strong share on a relation the contract score leans on outranks a plain fact.
    assert codes[0, 0] == "R10_SHARED_INTEREST_SIGNAL" and "R10_SHARED_INTEREST_SIGNAL" not in codes[1]
    text = sentences(codes, facts, settings)
    assert text.loc[0, "reason_1"] == ("Its payment accounts look like those of high-interest customers "
                                       "(90% of the contract model's signal there comes from the interest model)")


def test_reason_codes_are_unique_and_documented() -> None:
    codes = [r.code for r in REASON_CODES]
    assert len(codes) == len(set(codes)) and codes == sorted(codes)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "## Reason codes" in readme and markdown_table() in readme


def test_own_recent_high_interest_is_a_reason(settings: Settings) -> None:
    limit = settings.explain.own_interest_days
    facts = _facts(days_since_interest=[3.0, float(limit + 1), np.nan])
    eligible, strength = candidates(facts, settings)
    assert eligible["R11_OWN_INTEREST"].tolist() == [True, False, False]
    codes = choose(eligible, strength, None)
    assert codes[0, 0] == "R11_OWN_INTEREST" and "R11_OWN_INTEREST" not in codes[1] and "R11_OWN_INTEREST" not in codes[2]
    assert sentences(codes, facts, settings).loc[0, "reason_1"] == "Showed high interest 3 day(s) ago"


@pytest.mark.parametrize("challenger, champion, margin, expected", [
    (0.30, 0.20, 0.0, True), (0.20, 0.20, 0.0, False), (0.25, 0.20, 0.05, False), (0.26, 0.20, 0.05, True),
    (math.nan, 0.20, 0.0, False), (0.10, math.nan, 0.0, True),
])
def test_promotion_rule(challenger: float, champion: float, margin: float, expected: bool) -> None:
    assert beats(challenger, champion, margin) is expected


def test_decide_compares_contract_ap_on_the_same_hold_out(settings: Settings) -> None:
    result = FitResult(model=None, model_name="struchis",
                       metrics={"test": {"contract": {"ap": 0.3}, "high_interest": {"ap": 0.1}}})
    passed = GateResult(True, "beats both")
    assert decide(settings, result, "contract", passed, None, None).promote
    assert decide(settings, result, "contract", passed, "v0001-struchis", None).promote
    kept = decide(settings, result, "contract", passed, "v0001-struchis", {"contract": {"ap": 0.3}, "high_interest": {"ap": 0.9}})
    assert not kept.promote and kept.champion_ap == 0.3 and "does not beat" in kept.reason
    won = decide(settings, result, "contract", passed, "v0001-struchis", {"contract": {"ap": 0.2}, "high_interest": {"ap": 0.9}})
    assert won.promote and won.as_dict()["task"] == "contract"
    # The quality gate comes first: a failed gate never promotes, with or without a champion to keep.
    failed = GateResult(False, "does not beat lightgbm")
    first = decide(settings, result, "contract", failed, None, None)
    assert not first.promote and not first.gate_passed and "unproven" in first.reason
    stays = decide(settings, result, "contract", failed, "v0001-struchis", {"contract": {"ap": 0.0}})
    assert not stays.promote and "champion v0001-struchis stays" in stays.reason
