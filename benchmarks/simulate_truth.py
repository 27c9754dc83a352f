"""How learnable the simulated labels are: prevalence, the AUC of the true probabilities, and an own-features baseline.

    python -m benchmarks.simulate_truth --home <simulated home> [--anchors N]   # writes results/simulate_truth.md

For the last N Mondays whose 90-day window closed inside the history it joins truth/ to the realised
labels of active prospects (shipped or received in the 90 days up to the anchor) and reports:
prevalence of both tasks, the AUC of p_high_interest / p_contract against the labels (the ceiling
any model can reach), the AUC of p_contract among prospects with an earlier high_interest event (the
part of task 2 the high-interest gate does not explain), and the AUC of a logistic regression on
the customer's own features only (shipping counts, growth, its own sales history), trained on the
earlier half of the anchors and tested on the later half.
"""

from __future__ import annotations

import argparse
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


def own_feature_auc(df: pd.DataFrame, label: str) -> float:
    """Test AUC of a logistic regression on own features, trained on the earlier anchors."""
    anchors = sorted(df["anchor"].unique())
    train = df[df["anchor"].isin(anchors[: len(anchors) // 2])]
    test = df[df["anchor"].isin(anchors[len(anchors) // 2:])]
    x_train = np.log1p(train[OWN_FEATURES].clip(lower=-0.99).to_numpy(float))
    x_test = np.log1p(test[OWN_FEATURES].clip(lower=-0.99).to_numpy(float))
    scaler = StandardScaler().fit(x_train)
    model = LogisticRegression(max_iter=1_000, class_weight="balanced").fit(scaler.transform(x_train), train[label])
    return roc_auc_score(test[label], model.predict_proba(scaler.transform(x_test))[:, 1])


def render(df: pd.DataFrame, command: str) -> str:
    """The results page: prevalence, the truth's AUC (the ceiling), and an own-features baseline, per task."""
    anchors = sorted(df["anchor"].unique())
    test = df[df["anchor"] >= anchors[len(anchors) // 2]]
    gate = test[test["interest_before"] > 0]
    rows = [("task 1, high_interest in 30 days", "y1", "p_high_interest", None),
            ("task 2, contract_signed in 90 days", "y2", "p_contract", gate)]
    lines = ["# How learnable the simulated labels are", "",
             f"Written by `{command}` on {machine.now()}; {machine.describe()}.", "",
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
              "visible only through the graph.", ""]
    return "\n".join(lines)


def main() -> None:
    """Write the learnability page of one simulated home."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--anchors", type=int, default=8)
    args = parser.parse_args()
    command = f"python -m benchmarks.simulate_truth --home <home> --anchors {args.anchors}"
    PAGE.write_text(render(frame(args.home, args.anchors), command), encoding="utf-8")
    print(PAGE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
