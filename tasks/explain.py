"""Three plain-English reasons for each prospect at the top of a territory list, from SQL facts weighted by the model.

Which facts apply comes from `sql/explain/facts.sql`; how much each one counts comes from the model:
for StrucHIS, the relation attention of the customer (which relation drove its representation), averaged
over the two tasks with the score's weights; for other models every relation counts the same. A fact's
priority is its relation weight (relative to uniform) times its strength `1 - 2^-k`, where k says how far
the fact clears its threshold. StrucHIS's relation gates add one model fact (R10): on the relation its
contract score attends to most, how much of that message the contract task takes from the
high-interest task. Facts come first by priority, then the model-rank reasons fill up to three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import torch
from prefect import task
from prefect.cache_policies import NONE

from leadgraph.config import Settings
from leadgraph.sql import sql
from leadgraph.warehouse import connect
from models.layers import SELF_LOOP
from models.problem import num_nodes
from tasks.graph import load_snapshot
from tasks.reason_codes import REASON_CODES, RELATION_PHRASES, SEPARATOR
from tasks.score import ScoreRef, load_version, published_tasks, rows_of
from tasks.territory import territory_sql

REASONS_PER_LEAD = 3


@dataclass(frozen=True)
class ExplainRef:
    """How many of D's scores got reasons, and how often each code was used."""

    as_of: date
    table: str
    explained: int
    code_counts: dict[str, int]
    model_weighted: bool

    def render(self) -> str:
        top = ", ".join(f"{c} {n}" for c, n in sorted(self.code_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
        how = "facts weighted by the model's relation attention" if self.model_weighted else "facts only"
        return f"explained {self.explained:,} leads of {self.as_of} ({how}); most used: {top}"


@dataclass
class ModelSignals:
    """What the model leaned on for each listed customer (rows in the order asked for)."""

    relations: pd.DataFrame  # each relation's attention relative to uniform (1 = average), score-weighted over tasks
    shared_relation: pd.Series  # the relation the contract task attends to most (self-loop aside); None without gates
    shared_share: pd.Series  # the part of the contract task's message there that its gate takes from the interest task


def model_signals(model: object, graph, rows: np.ndarray, cfg, score_weights: tuple[float, float]) -> ModelSignals | None:
    """Relation attention and, for StrucHIS, its relation gates, of the listed customers; None without relation attention."""
    if not hasattr(model, "relation_view"):
        return None
    task_names = [t.name for t in model.tasks]
    first, final = published_tasks(task_names)
    weights = {final: score_weights[1], **({first: score_weights[0]} if first else {})}
    seeds = torch.from_numpy(rows)
    if num_nodes(graph) <= cfg.full_batch_max_nodes:
        parts = [(model.relation_view(graph), seeds, torch.arange(len(rows)))]
    else:
        from models.sampler import sample_batches

        # Seeded like scoring (models/inference.py), so a re-publish of D states the same reasons.
        parts = [(model.relation_view(b.graph), b.seed_local, b.seed_pos)
                 for b in sample_batches(graph, "customer", seeds, list(cfg.inference_fanouts), cfg.inference_batch_size,
                                         False, torch.Generator().manual_seed(cfg.seed))]
    names = parts[0][0][final].names
    interest = task_names.index(first) if first else None
    attention = np.zeros((len(rows), len(names)))
    share = np.full(len(rows), np.nan)
    relation = np.full(len(rows), None, dtype=object)
    neighbours = np.array([name != SELF_LOOP for name in names])
    for views, local, pos in parts:
        mixed = sum(weights[t] * views[t].attention[local] for t in weights) / sum(weights.values())
        attention[pos.numpy()] = mixed.numpy()
        contract = views[final]
        if contract.gates is not None and interest is not None:
            own = np.where(neighbours, contract.attention[local].numpy(), -np.inf)
            top = own.argmax(axis=1)
            share[pos.numpy()] = contract.gates[local].numpy()[np.arange(len(top)), top, interest]
            relation[pos.numpy()] = np.asarray(names, dtype=object)[top]
    return ModelSignals(pd.DataFrame(attention * len(names), columns=names), pd.Series(relation), pd.Series(share))


def _strength(k: pd.Series) -> np.ndarray:
    """1 - 2^-k: more than the threshold counts more, with diminishing returns."""
    return 1.0 - np.power(0.5, k.to_numpy(np.float64))


def candidates(facts: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(eligible, strength) per reason code and listed customer, from the facts (and the model's shared signal)."""
    cfg = settings.explain
    shared = facts.get("shared_share", pd.Series(np.nan, index=facts.index)).astype(np.float64)
    shared_weight = facts.get("shared_attention", pd.Series(1.0, index=facts.index)).astype(np.float64)
    growth = facts["ship_recent"] / np.maximum(facts["ship_previous"], 1)
    density = facts["station_density"] / facts["overall_density"].where(facts["overall_density"] > 0)
    days = facts["days_since_shipment"]
    interest_days = facts.get("days_since_interest", pd.Series(np.nan, index=facts.index)).astype(np.float64)
    eligible = pd.DataFrame({
        "R01_SHIP_GROWTH": (facts["ship_recent"] >= cfg.min_recent_shipments) & (growth >= cfg.min_growth_ratio),
        "R02_CONTRACT_PARTNERS": facts["partner_contracts"] >= cfg.min_partner_contracts,
        "R03_SHARED_ACCOUNT_INTEREST": facts["shared_interest"] >= cfg.min_shared_accounts,
        "R04_COMPANY_SIGNED": facts["company_signers"] >= cfg.min_company_signers,
        "R05_STATION_PEERS": (facts["station_contracts"] > 0) & (density >= cfg.station_density_factor),
        "R06_RECENT_ACTIVITY": days.notna() & (days <= cfg.recent_activity_days),
        "R10_SHARED_INTEREST_SIGNAL": shared.notna() & (shared >= cfg.min_shared_signal),
        "R11_OWN_INTEREST": interest_days.notna() & (interest_days <= cfg.own_interest_days),
    }).fillna(False)
    strength = pd.DataFrame({
        "R01_SHIP_GROWTH": _strength(growth / cfg.min_growth_ratio),
        "R02_CONTRACT_PARTNERS": _strength(facts["partner_contracts"]),
        "R03_SHARED_ACCOUNT_INTEREST": _strength(facts["shared_interest"]),
        "R04_COMPANY_SIGNED": _strength(facts["company_signers"]),
        "R05_STATION_PEERS": _strength((density / cfg.station_density_factor).fillna(0)),
        "R06_RECENT_ACTIVITY": _strength((cfg.recent_activity_days + 1) / (days.fillna(1e9) + 1)),
        # Its relation is the contract task's own pick, so its attention weighs it here, not in choose().
        "R10_SHARED_INTEREST_SIGNAL": shared_weight.to_numpy() * _strength((shared / cfg.min_shared_signal).fillna(0)),
        "R11_OWN_INTEREST": _strength((cfg.own_interest_days + 1) / (interest_days.fillna(1e9) + 1)),
    })
    return eligible, strength


def choose(eligible: pd.DataFrame, strength: pd.DataFrame, relations: pd.DataFrame | None) -> np.ndarray:
    """The codes of the three reasons per row: eligible facts by priority, then the fallbacks in code order."""
    codes = [r.code for r in REASON_CODES]
    priority = np.full((len(eligible), len(codes)), -np.inf)
    for j, reason in enumerate(REASON_CODES):
        if reason.fallback:
            # Below every fact, in code order.
            priority[:, j] = -1.0 - j
            continue
        if reason.code not in strength:
            continue  # stated by a later stage (R11 by publish), never chosen here
        weight = np.ones(len(eligible))
        if relations is not None and reason.relations:
            weight = relations[list(reason.relations)].to_numpy().mean(axis=1)
        value = weight * strength[reason.code].to_numpy()
        priority[:, j] = np.where(eligible[reason.code].to_numpy(), value, -np.inf)
    # Stable sort on -priority keeps code order among ties, so the choice never depends on float noise alone.
    order = np.argsort(-priority, axis=1, kind="stable")[:, :REASONS_PER_LEAD]
    return np.asarray(codes, dtype=object)[order]


def sentences(codes: np.ndarray, facts: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """reason_1..3 texts and the `|`-joined codes for each row."""
    values = facts.assign(
        window=settings.explain.growth_window_days,
        density_ratio=(facts["station_density"] / facts["overall_density"].where(facts["overall_density"] > 0)).fillna(0),
        days_since_shipment=facts["days_since_shipment"].fillna(-1).astype(np.int64),
        days_since_interest=facts.get("days_since_interest", pd.Series(np.nan, index=facts.index)).fillna(-1).astype(np.int64),
        contract_top_pct=np.maximum(1, np.ceil(100 * (1 - facts["contract_rank"]))).astype(np.int64),
        interest_top_pct=np.maximum(1, np.ceil(100 * (1 - facts["interest_rank"]))).astype(np.int64),
        score_pct=np.floor(100 * facts["score_rank"]).astype(np.int64),
        shared_relation=facts.get("shared_relation", pd.Series(None, index=facts.index)).map(RELATION_PHRASES),
        shared_pct=np.floor(100 * facts.get("shared_share", pd.Series(0.0, index=facts.index)).fillna(0)).astype(np.int64),
    )
    templates = {r.code: r.template for r in REASON_CODES}
    records = values.to_dict("records")
    out = pd.DataFrame({"customer_id": facts["customer_id"].to_numpy()})
    for k in range(REASONS_PER_LEAD):
        out[f"reason_{k + 1}"] = [templates[c].format(**rec) for c, rec in zip(codes[:, k], records)]
    out["reason_codes"] = [SEPARATOR.join(row) for row in codes]
    return out


def explain(settings: Settings, scored: ScoreRef) -> ExplainRef:
    """Reasons for the top `publish.explain_top` prospects of every territory, written onto D's scores."""
    as_of = scored.as_of
    with connect(settings.paths.warehouse) as con:
        listed = con.execute(sql("explain/listed").format(territory=territory_sql(settings.publish)), {"as_of": as_of, "top": settings.publish.explain_top}).df()
        con.register("listed", listed[["customer_id"]])
        facts = con.execute(sql("explain/facts"), {"as_of": as_of, "window": settings.explain.growth_window_days}).df()
        con.unregister("listed")
    facts = facts.merge(listed, on="customer_id", validate="one_to_one").sort_values("customer_id").reset_index(drop=True)
    model, normalizer, cfg = load_version(settings, scored.model_version)
    relations = None
    if hasattr(model, "relation_view") and len(facts):
        graph = normalizer.transform(load_snapshot(scored.snapshot_path))
        rows = rows_of(graph["customer"].node_id.numpy(), facts["customer_id"].to_numpy(np.int64), "listed prospects")
        signals = model_signals(model, graph, rows, cfg, (settings.score.weight_high_interest, settings.score.weight_contract))
        relations = signals.relations
        attention = [relations.at[i, r] if r is not None else np.nan for i, r in enumerate(signals.shared_relation)]
        facts = facts.assign(shared_relation=signals.shared_relation.to_numpy(), shared_share=signals.shared_share.to_numpy(),
                             shared_attention=attention)
    eligible, strength = candidates(facts, settings)
    codes = choose(eligible, strength, relations)
    reasons = sentences(codes, facts, settings)
    with connect(settings.paths.warehouse) as con:
        con.register("reasons", reasons)
        con.execute("BEGIN TRANSACTION")
        con.execute(f"UPDATE {scored.table} SET reason_1 = NULL, reason_2 = NULL, reason_3 = NULL, reason_codes = NULL "
                    "WHERE as_of = ?", [as_of])
        con.execute(sql("explain/apply"), {"as_of": as_of})
        con.execute("COMMIT")
        con.unregister("reasons")
    counts = pd.Series(codes.ravel()).value_counts()
    return ExplainRef(as_of, scored.table, len(reasons), {str(k): int(v) for k, v in counts.items()}, relations is not None)


@task(name="explain", cache_policy=NONE, task_run_name="explain-{scored.as_of}")
def explain_task(settings: Settings, scored: ScoreRef) -> ExplainRef:
    """Prefect task: reason codes for the top of each list."""
    return explain(settings, scored)
