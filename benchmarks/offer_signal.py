"""Where the simulated world's offer signal lives: what the split already showed about each next adoption.

    python -m benchmarks.offer_signal --scale small     # the world `leadgraph bench offers --scale small` uses

For every test positive of `leadgraph bench offers` (a customer's next adoption after the split) and, as the
base rate, every other offer that customer had not adopted by the split: whether the customer had touched
the offer (enquiry, quote or trial by the split), and whether a peer had adopted it by the split (a shipping
partner, company sibling or account co-holder: `sql/offers/peer_adopted.sql`, the query behind the lists'
peer reason). The first is a first-order signal every offer model reads from its own behaviour graphs; the
second runs through customer-customer edges that no CIGF variant holds (its graphs are customers x offers).
Writes benchmarks/results/offer_signal.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import machine
from benchmarks.offers import RESULTS, bench_settings, prepare
from leadgraph.config import Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from models.offers.baselines import funnel_stages
from models.offers.selection import holdout
from tasks.offer_data import OfferData


def pair_signals(settings: Settings, data: OfferData, users: np.ndarray, items: np.ndarray) -> pd.DataFrame:
    """One row per (test customer, offer not adopted by the split): positive, touched, peer adopted."""
    inter = data.interactions
    n_items = inter.n_items
    stage = funnel_stages(inter, users).ravel()
    frame = pd.DataFrame({"u": np.repeat(users, n_items), "i": np.tile(np.arange(n_items), len(users))})
    frame["positive"] = (frame["i"].to_numpy() == np.repeat(items, n_items))
    frame["touched"] = stage > 0
    adopted = np.zeros((len(users), n_items), dtype=bool)
    for row, seen in enumerate(holdout(inter, users, items).seen):
        adopted[row, seen] = True
    frame = frame[~adopted.ravel()].reset_index(drop=True)
    frame["customer_id"] = data.customer_ids[frame["u"].to_numpy()]
    frame["service_id"] = data.service_ids[frame["i"].to_numpy()]
    with connect(settings.paths.warehouse) as con:
        con.register("_offers_frame", frame[["customer_id", "service_id"]])
        con.execute(sql("offers/peer_adopted"), {"d": data.as_of})
        peers = con.execute("SELECT customer_id, service_id FROM peer_adopted").fetchdf()
        con.unregister("_offers_frame")
    peers["peer"] = True
    frame = frame.merge(peers, on=["customer_id", "service_id"], how="left")
    frame["peer"] = frame["peer"].astype("boolean").fillna(False).astype(bool)
    return frame


def peer_excess(frame: pd.DataFrame) -> tuple[float, float, int]:
    """On untouched pairs: how much more often next adoptions have a peer's adoption than other offers (ratio),
    how many would at each offer's own rate among the other pairs, and how many do."""
    untouched = frame[~frame["touched"]]
    pos, other = untouched[untouched["positive"]], untouched[~untouched["positive"]]
    lift = pos["peer"].mean() / max(other["peer"].mean(), 1e-12)
    # A popular offer has more adopting peers whatever the relations do: expect each next adoption to have a
    # peer at its own offer's rate among the other untouched pairs.
    expected = float(pos["i"].map(other.groupby("i")["peer"].mean()).fillna(0.0).sum())
    return float(lift), expected, int(pos["peer"].sum())


def _share(mask: pd.Series) -> str:
    """A share as a percentage with its count."""
    return f"{mask.mean():.1%} ({int(mask.sum()):,})" if len(mask) else "–"


def page(frame: pd.DataFrame, data: OfferData, command: str) -> str:
    """The results page: touched and peer shares of the next adoptions against the other offers."""
    pos, other = frame[frame["positive"]], frame[~frame["positive"]]
    lines = [
        "# Where the offer signal lives in the simulated world", "",
        f"Written by `{command}` on {machine.now()}; {machine.describe()}.", "",
        f"Split {data.as_of} (the offers benchmark's): {len(pos):,} test customers' next adoptions, against the "
        f"{len(other):,} other (customer, offer) pairs of the same customers not adopted by the split. *Touched*: the "
        "customer had an enquiry, quote or trial on the offer by the split. *Peer adopted*: a shipping partner, company "
        "sibling or account co-holder had adopted it by the split.", "",
        "| pairs | count | touched | peer adopted | peer adopted, among the untouched |",
        "|---|---|---|---|---|",
    ]
    for name, rows in (("next adoptions", pos), ("other offers", other)):
        untouched = rows[~rows["touched"]]
        lines.append(f"| {name} | {len(rows):,} | {_share(rows['touched'])} | {_share(rows['peer'])} | "
                     f"{_share(untouched['peer'])} |")
    lift, expected, observed = peer_excess(frame)
    untouched = int((pos["positive"] & ~pos["touched"]).sum())
    lines += [
        "",
        f"Among offers the customer had never touched, a peer's adoption is {lift:.1f}x as frequent for the next "
        f"adoptions as for the other offers. Popularity explains part of that (a popular offer has adopting peers "
        f"more often): at each offer's own rate among the other untouched pairs, {expected:,.0f} of the "
        f"{untouched:,} untouched next adoptions would have had a peer's adoption; {observed:,} "
        f"did ({observed / max(expected, 1e-12):.1f}x). That excess comes from the customer's relations "
        "(the simulator's peer effect, and the latent factors company siblings share), carried by customer-customer edges.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> Path:
    """Measure and write the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("tiny", "small"), default="small")
    args = parser.parse_args(argv)
    settings = bench_settings(args.scale)
    data, users, items, _ = prepare(settings)
    frame = pair_signals(settings, data, users, items)
    command = "python -m benchmarks.offer_signal " + shlex.join(sys.argv[1:] if argv is None else argv)
    path = RESULTS / "offer_signal.md"
    path.write_text(page(frame, data, command.strip()), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(main())
