"""The lead list's offer reason: R12 when the lead's peers already use its first recommended offer."""

from __future__ import annotations

import pandas as pd

from tasks.reason_codes import BY_CODE, SEPARATOR

OFFER_REASON = "R12_PEERS_USE_OFFER"


def add_offer_reason(frame: pd.DataFrame) -> pd.DataFrame:
    """Where `offer_peer_1` is true on an explained lead, R12 goes right after its fact reasons and the last
    model-rank reason drops out; leads whose three reasons are all facts keep them."""
    out = frame.copy()
    template = BY_CODE[OFFER_REASON].template
    for i in out.index[out["offer_peer_1"].fillna(False).astype(bool) & out["reason_codes"].notna()]:
        codes = out.at[i, "reason_codes"].split(SEPARATOR)
        texts = [out.at[i, f"reason_{k}"] for k in range(1, len(codes) + 1)]
        facts = sum(not BY_CODE[c].fallback for c in codes)
        if facts >= len(codes) or OFFER_REASON in codes:
            continue
        codes = codes[:facts] + [OFFER_REASON] + codes[facts:-1]
        texts = texts[:facts] + [template.format(offer_1=out.at[i, "offer_1"])] + texts[facts:-1]
        out.at[i, "reason_codes"] = SEPARATOR.join(codes)
        for k, text in enumerate(texts, start=1):
            out.at[i, f"reason_{k}"] = text
    return out
