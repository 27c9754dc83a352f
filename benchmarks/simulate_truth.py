"""How learnable the simulated labels are: prevalence, the AUC of the true probabilities, and an own-features baseline.

    python -m benchmarks.simulate_truth --home <simulated home> [--anchors N]   # writes results/simulate_truth.md

For the last N Mondays whose 90-day window closed inside the history it joins truth/ to the realised
labels of active prospects (shipped or received in the 90 days up to the anchor) and reports:
prevalence of both tasks, the AUC of p_high_interest / p_contract against the labels (the ceiling
any model can reach), the AUC of p_contract among prospects with an earlier high_interest event (the
part of task 2 the high-interest gate does not explain), and the AUC of a logistic regression on
the customer's own features only (shipping counts, growth, its own sales history), trained on the
earlier half of the anchors and tested on the later half. A second table bounds what multi-task learning can
carry from one task to the other in this world: how much of each task's labels the other task's true
probabilities rank, and what a perfect high-interest model adds to a contract model that already sees the gate.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from benchmarks import machine
from leadgraph.sql import sql

PAGE = Path(__file__).resolve().parent / "results" / "simulate_truth.md"
OWN_FEATURES = ["sent_30", "sent_90", "received_90", "growth", "interest_before", "contacts_90", "days_known"]
# Rows of the transfer table that the page's prose and its test read back.
GATE = "the gate alone (an earlier high_interest event, an input feature of every model)"
GATE_THEN_INTEREST = "the gate, then the true p_high_interest within each side of it"
OUTSIDE = "the true p_high_interest, among the prospects without an earlier high_interest event only"


def frame(home: Path, anchors: int) -> pd.DataFrame:
    """Truth, labels and own features of active prospects at the chosen anchors."""
    con = duckdb.connect()
    landing = home / "landing"
    con.execute(f"CREATE VIEW s AS SELECT * FROM read_parquet('{landing}/shipments/*/*.parquet')")
    con.execute(f"CREATE VIEW e AS SELECT * FROM read_csv('{landing}/sales_events/*/*.csv', header = true)")
    con.execute(f"CREATE VIEW c AS SELECT * FROM read_csv('{landing}/customers/*/*.csv', header = true)")
    end = con.execute("SELECT max(CAST(shipped_at AS DATE)) FROM s").fetchone()[0]
    files = sorted((home / "truth" / "probabilities").glob("as_of=*.parquet"))
    days = [date.fromisoformat(p.stem.split("=")[1]) for p in files]
    chosen = [(d, p) for d, p in zip(days, files) if d + timedelta(days=90) <= end][-anchors:]
    frames = [con.execute(sql("benchmarks/truth_frame"), {"anchor": t, "truth": str(path)}).df() for t, path in chosen]
    return pd.concat(frames, ignore_index=True)


def own_feature_auc(df: pd.DataFrame, label: str, extra: tuple[str, ...] = ()) -> float:
    """Test AUC of a logistic regression on own features (and `extra` columns), trained on the earlier anchors."""
    anchors = sorted(df["anchor"].unique())
    train = df[df["anchor"].isin(anchors[: len(anchors) // 2])]
    test = df[df["anchor"].isin(anchors[len(anchors) // 2:])]
    columns = [*OWN_FEATURES, *extra]
    x_train = np.log1p(train[columns].clip(lower=-0.99).to_numpy(float))
    x_test = np.log1p(test[columns].clip(lower=-0.99).to_numpy(float))
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(max_iter=1_000, class_weight="balanced").fit(scaler.transform(x_train), train[label])
    return roc_auc_score(test[label], model.predict_proba(scaler.transform(x_test))[:, 1])


def world_of(home: Path) -> str:
    """Which simulated world a home holds, from its truth summary."""
    summary = json.loads((home / "truth" / "summary.json").read_text(encoding="utf-8"))
    return (f"the {summary['scale']} world (seed {summary['seed']}, {summary['start']} .. {summary['end']}, "
            f"{summary['nodes']['customer']:,} customers)")


def render(df: pd.DataFrame, command: str, world: str) -> str:
    """The results page: prevalence, the truth's AUC (the ceiling), and an own-features baseline, per task."""
    anchors = sorted(df["anchor"].unique())
    test = later_half(df)
    gate = test[test["interest_before"] > 0]
    rows = [("task 1, high_interest in 30 days", "y1", "p_high_interest", None),
            ("task 2, contract_signed in 90 days", "y2", "p_contract", gate)]
    lines = ["# How learnable the simulated labels are", "",
             f"Written by `{command}` on {machine.now()}, on {world}; {machine.describe()}.", "",
             f"Anchors: the last {len(anchors)} truth anchors whose 90-day window closed inside the history "
             f"({anchors[0]:%Y-%m-%d} .. {anchors[-1]:%Y-%m-%d}), {len(df) / len(anchors):,.0f} active prospects per anchor (shipped or "
             f"received in the 90 days up to it); AUCs on the later {len(anchors) - len(anchors) // 2} anchors.", "",
             "| | prevalence (truth mean) | test positives | AUC of the true probabilities | AUC among prospects with an "
             "earlier high_interest event | AUC of a logistic regression on the customer's own features |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, y, p, among in rows:
        gated = f"{roc_auc_score(among[y], among[p]):.3f}" if among is not None else ""
        lines.append(f"| {label} | {100 * df[y].mean():.3f}% ({100 * df[p].mean():.3f}%) | {int(test[y].sum()):,} | "
                     f"{roc_auc_score(test[y], test[p]):.3f} | {gated} | {own_feature_auc(df, y):.3f} |")
    lines += ["", "Own features: " + ", ".join(OWN_FEATURES) + "; the regression trains on the earlier half of the "
              "anchors. The true probabilities are the ceiling any model can reach; for task 2, what separates "
              "signers among the prospects behind the high-interest gate (partners' and the station's contracts) is "
              "visible only through the graph.", "", *transfer_lines(df)]
    return "\n".join(lines)


def later_half(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the later half of the anchors (the test anchors of both tables)."""
    anchors = sorted(df["anchor"].unique())
    return df[df["anchor"] >= anchors[len(anchors) // 2]]


def transfer_aucs(df: pd.DataFrame) -> dict[str, float]:
    """Contract AUC on the later anchors of the gate, the true probabilities and their combinations."""
    test = later_half(df)
    gate = (test["interest_before"] > 0).astype(float)
    outside = test[gate == 0]
    aucs = {GATE: roc_auc_score(test["y2"], gate),
            "the true p_high_interest alone (a perfect high-interest model)": roc_auc_score(test["y2"], test["p_high_interest"]),
            OUTSIDE: roc_auc_score(outside["y2"], outside["p_high_interest"]),
            # p_high_interest < 1, so adding it to the 0/1 gate only breaks ties within the gate's two groups.
            GATE_THEN_INTEREST: roc_auc_score(test["y2"], gate + test["p_high_interest"]),
            "the true p_contract (the ceiling)": roc_auc_score(test["y2"], test["p_contract"]),
            "the own-features regression above": own_feature_auc(df, "y2"),
            "the own-features regression with the true p_high_interest as a further feature":
                own_feature_auc(df, "y2", extra=("p_high_interest",))}
    return {name: float(auc) for name, auc in aucs.items()}


def transfer_lines(df: pd.DataFrame) -> list[str]:
    """What one task's true probabilities rank of the other's labels: the most a shared model could carry over."""
    test = later_half(df)
    signers = test[test["y2"] == 1]
    gated = int((signers["interest_before"] > 0).sum())
    aucs = transfer_aucs(df)
    return ["## What one task can teach the other", "",
            f"Task 2 on the test anchors: {len(signers):,} signers, {gated:,} of them ({100 * gated / len(signers):.0f}%) "
            "with a high_interest event before the anchor.", "",
            "| contract_signed in 90 days, scored by | AUC |", "|---|---:|",
            *(f"| {name} | {auc:.3f} |" for name, auc in aucs.items()),
            "", "High interest in 30 days scored by the gate alone: AUC "
            f"{roc_auc_score(test['y1'], test['interest_before'] > 0):.3f}; by the true p_contract: "
            f"{roc_auc_score(test['y1'], test['p_contract']):.3f}; by its own true probability: "
            f"{roc_auc_score(test['y1'], test['p_high_interest']):.3f}.", "",
            "A perfect high-interest model adds to a contract model that sees the gate "
            f"{aucs[GATE_THEN_INTEREST] - aucs[GATE]:+.3f} AUC (the gate, then p_high_interest, against the gate "
            "alone). A prospect outside the gate must have a high_interest event before it can sign, so its true "
            "p_contract contains its high-interest hazard (one reason p_contract ranks task 1 better than the gate "
            f"does); yet among those prospects the true p_high_interest ranks signers at AUC {aucs[OUTSIDE]:.3f}. By "
            "the simulator's design (simulator/world_days.py) the two hazards share no driver: task 1's growth, "
            "account and company patterns reach task 2 only through the gate, and task 2's partners' and station's "
            "contracts push task 1 the other way on station density.", ""]


def main() -> None:
    """Write the learnability page of one simulated home."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--anchors", type=int, default=8)
    args = parser.parse_args()
    command = f"python -m benchmarks.simulate_truth --home <home> --anchors {args.anchors}"
    PAGE.write_text(render(frame(args.home, args.anchors), command, world_of(args.home)), encoding="utf-8")
    print(PAGE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
