"""How learnable the simulated labels are: prevalence, the AUC of the true probabilities, and an own-features baseline.

    python -m benchmarks.simulate_truth --home <simulated home> [--anchors N]

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
    frames = []
    for t, path in chosen:
        frames.append(con.execute(f"""
            WITH sent AS (
                SELECT sender_customer_id AS customer_id,
                       count(*) FILTER (WHERE shipped_at >= DATE '{t}' - 29) AS sent_30,
                       count(*) FILTER (WHERE shipped_at < DATE '{t}' - 29 AND shipped_at >= DATE '{t}' - 59) AS sent_prev_30,
                       count(*) AS sent_90
                FROM s WHERE shipped_at >= DATE '{t}' - 89 AND shipped_at < DATE '{t}' + 1 GROUP BY 1),
            received AS (
                SELECT receiver_customer_id AS customer_id, count(*) AS received_90
                FROM s WHERE shipped_at >= DATE '{t}' - 89 AND shipped_at < DATE '{t}' + 1 GROUP BY 1),
            history AS (
                SELECT customer_id,
                       count(*) FILTER (WHERE outcome = 'high_interest' AND event_at < DATE '{t}' + 1) AS interest_before,
                       count(*) FILTER (WHERE outcome = 'contacted' AND event_at >= DATE '{t}' - 89
                                        AND event_at < DATE '{t}' + 1) AS contacts_90,
                       max(outcome = 'high_interest' AND event_at >= DATE '{t}' + 1 AND event_at < DATE '{t}' + 31) AS y1,
                       max(outcome = 'contract_signed' AND event_at >= DATE '{t}' + 1 AND event_at < DATE '{t}' + 91) AS y2
                FROM e GROUP BY 1),
            known AS (SELECT customer_id, min(created_at) AS created FROM c GROUP BY 1)
            SELECT DATE '{t}' AS anchor, p.customer_id, p.p_high_interest, p.p_contract,
                   coalesce(sent_30, 0) AS sent_30, coalesce(sent_90, 0) AS sent_90,
                   coalesce(received_90, 0) AS received_90,
                   ln(1 + coalesce(sent_30, 0)) - ln(1 + coalesce(sent_prev_30, 0)) AS growth,
                   coalesce(interest_before, 0) AS interest_before, coalesce(contacts_90, 0) AS contacts_90,
                   date_diff('day', CAST(k.created AS DATE), DATE '{t}') AS days_known,
                   CAST(coalesce(y1, false) AS INT) AS y1, CAST(coalesce(y2, false) AS INT) AS y2
            FROM read_parquet('{path}') p
            LEFT JOIN sent USING (customer_id) LEFT JOIN received USING (customer_id)
            LEFT JOIN history USING (customer_id) LEFT JOIN known k USING (customer_id)
            WHERE coalesce(sent_90, 0) + coalesce(received_90, 0) > 0""").df())
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


def main() -> None:
    """Print the learnability figures of one simulated home."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--anchors", type=int, default=8)
    args = parser.parse_args()
    df = frame(args.home, args.anchors)
    test = df[df["anchor"] >= sorted(df["anchor"].unique())[len(df["anchor"].unique()) // 2]]
    gate = test[test["interest_before"] > 0]
    print(f"anchors {df['anchor'].nunique()} ({df['anchor'].min()} .. {df['anchor'].max()}), "
          f"active prospects per anchor {len(df) / df['anchor'].nunique():,.0f}")
    print(f"task 1: prevalence {df['y1'].mean():.4f} (truth mean {df['p_high_interest'].mean():.4f}); "
          f"AUC truth {roc_auc_score(test['y1'], test['p_high_interest']):.3f}, "
          f"own features {own_feature_auc(df, 'y1'):.3f}")
    print(f"task 2: prevalence {df['y2'].mean():.5f} (truth mean {df['p_contract'].mean():.5f}), "
          f"{int(test['y2'].sum())} positives in the test half; AUC truth {roc_auc_score(test['y2'], test['p_contract']):.3f}, "
          f"truth among earlier-high-interest prospects {roc_auc_score(gate['y2'], gate['p_contract']):.3f}, "
          f"own features {own_feature_auc(df, 'y2'):.3f}")


if __name__ == "__main__":
    main()
