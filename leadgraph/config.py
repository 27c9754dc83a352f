"""The one typed place for leadgraph's configuration: paths under the home folder and every stage's knobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from leadgraph.contract import REQUIRED_TABLES, TERRITORY_COLUMNS

# Value ranges that settings from a file, the environment or --set must respect.
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]

RAW_TABLES: tuple[str, ...] = (
    "stations",
    "companies",
    "customers",
    "accounts",
    "customer_accounts",
    "shipments",
    "sales_events",
    "services",
    "service_events",
)

# Real deliveries mix formats: the two high-volume tables arrive as Parquet, the rest as CSV.
LANDING_FORMAT: dict[str, Literal["csv", "parquet"]] = {
    "stations": "csv",
    "companies": "csv",
    "customers": "csv",
    "accounts": "csv",
    "customer_accounts": "parquet",
    "shipments": "parquet",
    "sales_events": "csv",
    "services": "csv",
    "service_events": "parquet",
}


class Paths(BaseModel):
    """Every location leadgraph reads or writes, all under one home folder."""

    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def truth(self) -> Path:
        return self.home / "truth"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @property
    def graphs(self) -> Path:
        return self.artifacts / "graphs"

    @property
    def models(self) -> Path:
        return self.artifacts / "models"

    @property
    def reports(self) -> Path:
        return self.artifacts / "reports"

    @property
    def spill(self) -> Path:
        """Normalised snapshots of the problems being trained, removed when training ends (tasks/spill.py)."""
        return self.artifacts / "spill"

    @property
    def exports(self) -> Path:
        return self.home / "exports" / "leads"

    @property
    def desk(self) -> Path:
        """What the lead desk reads besides the published lists: snapshots written at publish, never the warehouse."""
        return self.home / "exports" / "desk"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def run_lock(self) -> Path:
        return self.home / "run.lock"

    @property
    def meta_snapshot(self) -> Path:
        return self.home / "meta_snapshot.json"

    def partition(self, table: str, day: date) -> Path:
        """The landing folder of one table's daily partition."""
        return self.landing / table / f"dt={day.isoformat()}"


class ScaleSize(BaseModel):
    """How big one simulated world is (counts at the last day of history)."""

    customers: int
    companies: int
    stations: int
    regions: int
    # Potential shipping partner pairs; about 80% of them ship at least once over half a year.
    pairs: int
    shipments_per_day: float
    # Truth is written for every n-th Monday of the history (bounds its size at paper scale).
    truth_every_mondays: int = 1


class OfferWorldConfig(BaseModel):
    """The simulated service catalogue and its behaviour funnel (simulator/world_offers.py; README "Offers")."""

    # Offers in the catalogue per scale (category x tier x destination region combinations).
    services: dict[str, int] = {"tiny": 36, "small": 120, "paper": 300}
    # Offers of a scale not listed above (e.g. a test's own).
    default_services: PositiveInt = 36
    # Share of offers launched during the history rather than before it.
    launch_share: Fraction = 0.15
    latent_factors: PositiveInt = 8
    # Offers a customer could ever take up (drawn by fit); the others stay at probability 0.
    candidates_per_customer: PositiveInt = 10
    step_days: PositiveInt = 7
    # Weeks simulated before day 0, written as day 0's backlog, so the history starts with regular users.
    burn_in_weeks: NonNegativeInt = 26
    # Weekly base hazards of each funnel step (enquiry, quote, trial, adopted after trial) and of adopting
    # straight from a quote; fit and social weights per step in the same order.
    base_hazards: tuple[float, float, float, float] = (0.004, 0.08, 0.10, 0.12)
    skip_hazard: float = 0.02
    fit_weights: tuple[float, float, float, float] = (0.3, 0.8, 1.0, 1.3)
    social_weights: tuple[float, float, float, float] = (0.3, 0.3, 0.6, 0.9)
    # Enquiries have their own per-pair noise, which later steps ignore: an enquiry is a noisy signal.
    enquiry_noise: NonNegativeFloat = 1.2
    same_region_bonus: float = 0.6
    truth_every_mondays: PositiveInt = 4


class SimulateConfig(BaseModel):
    """Defaults and world parameters for `leadgraph simulate` (see simulator/world.py for what each drives)."""

    scale: Literal["tiny", "small", "paper"] = "tiny"
    start: date = date(2025, 1, 1)
    end: date = date(2025, 12, 31)
    seed: int = 7
    defect_rate: float = 0.0
    sizes: dict[str, ScaleSize] = {
        "tiny": ScaleSize(customers=20_000, companies=3_000, stations=40, regions=8, pairs=36_000, shipments_per_day=780),
        "small": ScaleSize(customers=200_000, companies=30_000, stations=300, regions=10, pairs=360_000, shipments_per_day=7_800),
        "paper": ScaleSize(customers=3_600_000, companies=540_000, stations=2_800, regions=12, pairs=6_500_000,
                           shipments_per_day=140_000, truth_every_mondays=2),
    }
    # Structure.
    initial_customer_share: float = 0.75
    company_member_share: float = 0.39
    company_home_station_share: float = 0.7
    accounts_per_member: float = 0.75
    second_account_share: float = 0.08
    personal_account_share: float = 0.4
    business_share_of_non_members: float = 0.3
    sender_share_business: float = 0.8
    sender_share_individual: float = 0.4
    same_region_share: float = 0.85
    quiet_hazard_per_day: float = 0.001
    hub_share: float = 0.1
    # Shipping-rate dynamics: log-rate growth per 30-day epoch, AR(1) across epochs.
    epoch_days: int = 30
    growth_sigma: float = 0.35
    growth_rho: float = 0.6
    mean_reversion: float = 0.1
    momentum_days: float = 21.0
    # Sales: label targets per window (task 1: 30 days, task 2: 90 days) among active prospects.
    high_interest_prevalence: float = 0.02
    contract_prevalence: float = 0.0005
    initial_contract_share: float = 0.05
    backlog_days: int = 180
    contacts_per_day: float = 0.002
    quiet_interest_factor: float = 0.1
    # Daily change rows of dimension tables, as a fraction of the existing rows.
    # Log-hazard weights on standardised drivers (see simulator/world_days.py for the label mechanism).
    interest_weights: dict[str, float] = {
        "momentum": 0.9, "account_momentum": 0.5, "sibling_momentum": 0.5, "station_contracts": -0.3,
        "volume": 0.2, "noise": 0.6,
    }
    contract_weights: dict[str, float] = {"partner_contracts": 1.2, "station_contracts": 1.0, "noise": 0.4}
    # Standardised drivers are clipped at this many standard deviations; daily hazards are capped.
    driver_clip: float = 4.0
    max_daily_hazard: float = 1.0
    customer_change_rate: float = 0.0005
    company_change_rate: float = 0.0005
    account_change_rate: float = 0.0005
    station_change_rate: float = 0.002
    offers: OfferWorldConfig = Field(default_factory=OfferWorldConfig)


class TableChecks(BaseModel):
    """One table's table-level checks, overriding the validate section's defaults (quiet days, sparse tables)."""

    row_count: bool = True
    min_rows_vs_trailing_median: float | None = Field(default=None, ge=0)
    # None: the table is checked when it is one of validate.fresh_tables.
    freshness: bool | None = None
    max_staleness_days: int | None = Field(default=None, ge=0)


class NumberBounds(BaseModel):
    """The plausible range of one numeric column (rule finite_in_range); an open side is unchecked."""

    min: float | None = None
    max: float | None = None


class ValidateConfig(BaseModel):
    """Thresholds that turn row-level failures into a table-level stop."""

    max_bad_row_fraction: float = 0.05
    min_rows_vs_trailing_median: float = 0.2
    trailing_days: int = 14
    max_staleness_days: int = 3
    # Partitions whose trailing median is below this are too small for a row-count check to mean anything.
    row_count_min_median: int = 20
    row_count_min_history: int = 7
    fresh_tables: tuple[str, ...] = ("shipments",)
    max_text_length: int = 1_000
    earliest_plausible: date = date(2000, 1, 1)
    batch_rows: int = 2_000_000
    example_rows: int = 5
    # Retries of a validation that crashed (never of one that failed on the data).
    crash_retries: int = 1
    data_docs: bool = True
    # DuckDB's share while validating; pandas batches and GE live beside it in the same process.
    memory_limit: str = "4GB"
    # Per-table overrides of the row-count and freshness checks, e.g. [validate.tables.sales_events].
    tables: dict[str, TableChecks] = {}

    def checks(self, table: str) -> TableChecks:
        """A table's row-count and freshness settings with the section's defaults filled in."""
        own = self.tables.get(table) or TableChecks()
        return TableChecks(
            row_count=own.row_count,
            min_rows_vs_trailing_median=own.min_rows_vs_trailing_median if own.min_rows_vs_trailing_median is not None else self.min_rows_vs_trailing_median,
            freshness=own.freshness if own.freshness is not None else table in self.fresh_tables,
            max_staleness_days=own.max_staleness_days if own.max_staleness_days is not None else self.max_staleness_days,
        )
    # Rule finite_in_range: per table and column, the plausible (min, max) of a number; NaN and +-inf always fail.
    # No min where the suite has its own lower-bound rule (positive:weight_kg, ...), which then catches -inf.
    number_bounds: dict[str, dict[str, NumberBounds]] = {
        "shipments": {"weight_kg": NumberBounds(max=100_000.0), "fee": NumberBounds(max=10_000_000.0)},
        "companies": {"registered_capital": NumberBounds(max=1e13)},
        "stations": {"lat": NumberBounds(min=-90.0, max=90.0), "lon": NumberBounds(min=-180.0, max=180.0)},
    }


class IngestConfig(BaseModel):
    """How landing files are read into the warehouse."""

    max_line_bytes: PositiveInt = 8_000_000
    # Files read per statement are capped by size so staging text stays well inside memory_limit.
    group_bytes: PositiveInt = 1_500_000_000
    memory_limit: str = "6GB"
    retries: NonNegativeInt = 2
    retry_delay_seconds: NonNegativeFloat = 5.0


class GraphConfig(BaseModel):
    """Feature windows, category vocabularies and DuckDB limits of the as-of snapshot."""

    windows_days: tuple[int, ...] = (7, 30, 90)
    # Fixed vocabularies keep the feature columns identical across snapshots, so a model trained on
    # earlier anchors scores a later snapshot; unseen or missing values fall into an `other` column.
    industries: tuple[str, ...] = (
        "retail", "electronics", "apparel", "food", "machinery", "pharma",
        "furniture", "agriculture", "chemicals", "ecommerce",
    )
    service_levels: tuple[str, ...] = ("standard", "express", "freight")
    account_types: tuple[str, ...] = ("personal", "corporate", "monthly")
    payment_methods: tuple[str, ...] = ("cash", "card", "transfer", "credit")
    size_bands: tuple[str, ...] = ("micro", "small", "medium", "large")
    station_kinds: tuple[str, ...] = ("hub", "depot")
    # Sales channels of a customer's own contact and high-interest history features (others count as `other`).
    channels: tuple[str, ...] = ("phone", "visit", "email", "web")
    # The first snapshot of a home appends the data's other values to each vocabulary above and freezes the
    # result (tasks/vocabulary.py), so a company's own categories get their own columns, not `other`.
    learn_vocabularies: bool = True
    max_learned_values: PositiveInt = 50
    memory_limit: str = "8GB"
    threads: int = 2


class LabelTask(BaseModel):
    """One prediction task: the sales outcomes that make a positive, counted over a window after the anchor."""

    # The model's head and the key in metrics; "high_interest" and "contract" feed p_high_interest / p_contract.
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    # As shown in lists and reports.
    name: str
    outcomes: tuple[str, ...] = Field(min_length=1)
    window_days: int = Field(gt=0)


class LabelConfig(BaseModel):
    """The tasks (the funnel's stages, last = the final outcome), the prospect population and the anchor split."""

    tasks: tuple[LabelTask, ...] = (
        LabelTask(key="high_interest", name="high interest", outcomes=("high_interest",), window_days=30),
        LabelTask(key="contract", name="contract signed", outcomes=("contract_signed",), window_days=90),
    )
    # A prospect has no final outcome yet and at least this many shipments (sent or received) in the
    # lookback up to the anchor; 0 makes every customer without one a prospect, even with no shipment yet.
    min_shipments: int = Field(default=1, ge=0)
    activity_lookback_days: int = 90
    anchor_stride_days: int = 14
    train_anchors: int = 3

    @model_validator(mode="after")
    def _distinct_keys(self) -> LabelConfig:
        keys = [t.key for t in self.tasks]
        if not keys:
            raise ValueError("labels.tasks: at least one task is needed")
        if len(set(keys)) != len(keys):
            raise ValueError(f"labels.tasks: task keys must be distinct, got {keys}")
        return self

    @property
    def final(self) -> LabelTask:
        """The funnel's last stage: a customer with its outcome is no prospect; promotion is judged on it."""
        return self.tasks[-1]


class TabularConfig(BaseModel):
    """The LightGBM baseline (models/tabular.py): one booster per task on the target node type's features."""

    num_leaves: PositiveInt = 31
    learning_rate: PositiveFloat = 0.05
    max_rounds: PositiveInt = 1000
    early_stopping_rounds: PositiveInt = 50
    min_child_samples: PositiveInt = 20
    feature_fraction: Fraction = 0.9
    # None: OpenMP's default (all cores, or OMP_NUM_THREADS when set).
    threads: int | None = None


class DualBranchConfig(BaseModel):
    """The dual-branch model (models/dual_branch.py): GCN branch, pre-training, cross-attention fusion, fine-tuning."""

    # Relation names whose edges form the GCN branch's interaction graph, each with its reverse so that
    # propagation runs both ways: customer-customer shipping on the logistics graph, author-paper on DBLP.
    interaction_relations: tuple[str, ...] = ("ships_to", "receives_from", "writes", "written_by")
    # Edge-attribute column holding the interaction volume (the shipments' log total weight); edges
    # without attributes weigh 1.
    volume_column: int = 1
    gcn_layers: int = 3
    # GCN pre-training: the interaction objective's weight next to the task-weighted node losses, the
    # share of interaction edges held out of propagation as positives (each against one sampled
    # negative), and at most this many positives per step.
    link_weight: float = 0.5
    link_holdout: float = 0.1
    link_max_edges: int = 8192
    pretrain_epochs: int = 20
    # Under a training budget, fine-tuning may use this share of it; the two pre-trainings split the rest
    # equally, and time a stage leaves unused passes on to the next.
    fine_tune_budget_share: float = Field(default=0.5, gt=0, lt=1)
    # Fine-tuning: the pre-trained branches learn at lr * branch_lr_scale, the fusion and heads at lr.
    branch_lr_scale: float = 0.1
    fusion_blocks: int = 1
    ffn_mult: int = 2


class TrainConfig(BaseModel):
    """Model choice and optimisation."""

    model: str = "struchis"
    # Where graph models train and score: "auto" is CUDA when torch sees a GPU, else the CPU; or a torch device
    # name ("cpu", "cuda", "cuda:1"). A model trained on a GPU scores on the CPU of a machine without one.
    device: str = Field(default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    hidden: PositiveInt = 64
    layers: PositiveInt = 3
    dropout: Fraction = 0.2
    lr: PositiveFloat = 5e-3
    weight_decay: NonNegativeFloat = 0.0
    max_epochs: PositiveInt = 40
    eval_every: PositiveInt = 1
    patience: PositiveInt = 5
    # Wall-clock budget of a training run's fitting: past it, the epoch that just ended is evaluated and
    # training stops with the best weights so far (it binds at paper scale; smaller worlds stop on patience
    # first). The refit gets what selection and its scoring left; when that cannot finish the kept epoch
    # count, the selected model is stored and the registry says why.
    max_train_seconds: NonNegativeFloat | None = 3600.0
    loss_weights: tuple[float, float] = (0.3, 0.7)
    seed: NonNegativeInt = 0
    # StrucHIS keeps tasks x relations x hidden per node and level for the backward pass, about 80 kB per
    # node: graphs above this train on sampled mini-batches (and score layer-wise or by sampling).
    full_batch_max_nodes: NonNegativeInt = 100_000
    batch_size: PositiveInt = 1024
    # Neighbours sampled per node and edge type at each hop (the last repeats to the model's depth). Small
    # fanouts and half-size epochs keep a step cheap and the validation frequent: with them StrucHIS's
    # validation curve on the small world flattens within the training budget (benchmarks/results/logistics.md).
    fanouts: tuple[int, ...] = (4, 2, 2, 2)
    # Mini-batch training visits at most this many labelled seeds per epoch (all training graphs together),
    # and large graphs scored by sampling are evaluated on at most max_eval_seeds labelled rows each: a
    # weighted draw in which every task's positives share half the budget (models/seed_sampling.py).
    max_seeds_per_epoch: PositiveInt = 50_000
    max_eval_seeds: PositiveInt = 200_000
    # The train split's metrics (descriptive: selection uses validation) score each task's most recent this
    # many training anchors (None: all): at paper scale each anchor is a pass over millions of customers.
    train_metrics_anchors: PositiveInt | None = 1
    # Scoring graphs above full_batch_max_nodes: sampled inference draws these fanouts (-1 = every
    # neighbour) for inference_batch_size seeds at a time; layer-wise inference (StrucHIS) updates
    # nodes in chunks holding at most layerwise_chunk_edges incoming edges.
    inference_fanouts: tuple[int, ...] = (10, 10, 5, 5)
    inference_batch_size: PositiveInt = 4096
    layerwise_chunk_edges: PositiveInt = 200_000
    # A problem's normalised snapshots are written to disk on first use and read back on every later epoch
    # and evaluation (tasks/spill.py): 0.3 s instead of about 8 s per visit at paper scale, for disk space the
    # size of the problem's stored snapshots while it trains.
    spill_snapshots: bool = True
    # 0 retrains on every run.
    retrain_every_days: NonNegativeInt = 7
    promotion_margin: float = 0.0
    # After selection, refit on each task's most recent anchors whose windows closed by D, for the kept
    # epoch count (graph models; the tabular baseline keeps its early-stopped fit).
    refit: bool = True
    # Trained instead of a multi-task model (StrucHIS and the like) when labels.tasks holds a single task.
    single_task_model: str = "stl-hgb"
    # StrucHIS: "product" (one logit per binary task, no L2 normalisation, weighted BCE-with-logits /
    # cross-entropy) or "faithful" (the reference computation: L2-normalised logits, BCE on probabilities).
    struchis_mode: Literal["product", "faithful"] = "product"
    # Model selection: "score" keeps the weights with the best loss-weighted validation score
    # (models.training.selection_score); "joint_loss" (the reference's DBLP rule) keeps a checkpoint only when
    # every task's validation BCE improves or ties.
    selection: Literal["score", "joint_loss"] = "score"
    # Dropout masks of StrucHIS's relation-attention layers: "per_node_type" draws one mask per
    # node type and layer call, reused by its head, sender and self-loop roles (fewer random draws: cheaper on a
    # CPU); "per_role" draws the head's mask and each receiver's senders' masks separately, as the reference does.
    dropout_masks: Literal["per_node_type", "per_role"] = "per_node_type"
    # StrucHIS training recomputes each level in the backward pass instead of keeping its activations
    # (tasks x relations x hidden per node): about half the peak memory for about a third more compute.
    checkpoint_levels: bool = False
    attn_dropout: Fraction = 0.2
    # Binary tasks: pos_weight = (negatives / positives) ** pos_weight_power on the train labels;
    # 0 is plain BCE, 1 fully balanced, 0.5 a middle ground that keeps rare positives visible
    # without the gradient noise of a ~1000x weight.
    pos_weight_power: NonNegativeFloat = 0.5
    # Baselines (models/hgt.py, hgb.py, mtl.py): attention heads of HGT / Simple-HGN layers (hidden is
    # split across them), MMoE expert count, PLE experts per task and shared per level, and the MoE
    # experts' encoder. struchis_mode also decides the baselines' loss and Simple-HGN's L2-normalised output.
    heads: PositiveInt = 4
    mmoe_experts: PositiveInt = 3
    ple_task_experts: PositiveInt = 1
    ple_shared_experts: NonNegativeInt = 1
    moe_expert: Literal["hgb", "hgt"] = "hgb"
    tabular: TabularConfig = Field(default_factory=TabularConfig)
    dual: DualBranchConfig = Field(default_factory=DualBranchConfig)


class CalibrationConfig(BaseModel):
    """How raw probabilities become calibrated ones (fitted on the validation split, judged on the test split)."""

    method: Literal["platt", "isotonic"] = "platt"
    # Inverse regularisation of Platt's logistic regression (large: nearly unregularised).
    platt_c: float = 1e4
    # Platt slopes below this are raised to it, so a calibrated ranking never reverses the model's.
    min_slope: float = 1e-3
    reliability_bins: int = 10


class QualityConfig(BaseModel):
    """The quality gate: a version is promoted only if its final-task AP on its hold-out beats the prevalence
    and the LightGBM baseline trained on the same split, with a paired bootstrap interval above zero."""

    baseline_model: str = "lightgbm"
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    # Fewer hold-out positives than this: no interval; the version must beat both on validation and test.
    min_positives: int = 20
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)


class OfferConfig(BaseModel):
    """The offer recommender (models/offers/): model, training, evaluation.

    CIGF's reference settings (MODELS.md 4.4) except the batch: 2,500 users with 10 pairs each instead of 256
    with 40, and lr 1e-2 instead of 1e-3, so an epoch propagates the graph 4 times instead of 40 (below
    subgraph_above customers every step propagates the whole graph); benchmarks/results/offers.md measures
    these defaults, benchmarks/results/offers_paper.md the subgraph steps at paper scale.
    """

    model: str = "cigf"
    # The trained model serves only when its best validation NDCG beats this ranking's on the same split;
    # otherwise this ranking serves, and model.json says so. "none": the model always serves.
    must_beat: Literal["funnel-stage", "popularity", "none"] = "funnel-stage"
    dim: PositiveInt = 16
    layers: PositiveInt = 2
    lr: PositiveFloat = 1e-2
    # Staircase decay of the learning rate: x lr_decay every decay_steps optimiser steps.
    lr_decay: Fraction = 0.96
    decay_steps: PositiveInt = 39
    # L2 on the full embedding tables, the attention and the gate weights (biases excluded).
    reg: NonNegativeFloat = 1e-2
    mult: PositiveFloat = 300.0
    # The dot-product baselines (MF-BPR, LightGCN) learn nothing under the reference's full-table penalty of 1e-2
    # without CIGF's x300 score scale: they take the usual LightGCN setting instead.
    baseline_reg: NonNegativeFloat = 1e-4
    baseline_lr: PositiveFloat = 2e-2
    # Users per epoch of those baselines; None: every user. Their steps are cheap (MF-BPR propagates nothing, so
    # a user skipped by the epochs keeps its random embedding), so they get full passes, a stronger setting
    # than the CIGF family's `train_users` sample.
    baseline_train_users: PositiveInt | None = None
    # The most epochs; training stops earlier once `patience` epochs bring no better validation NDCG
    # (models/offers/selection.py), and the model trained on D runs the best epoch count.
    epochs: PositiveInt = 30
    patience: PositiveInt = 4
    # Wall-clock budget of the recommend stage's training, selection and refit together: past it, the epoch
    # running finishes and training stops (the paper world's CIGF epoch takes about a minute, so this binds
    # there and the training day stays within its hour). A refit cut by it does not serve: must_beat's ranking
    # does, and model.json says why. None: no budget.
    max_train_seconds: NonNegativeFloat | None = 600.0
    # Validation customers scored after each epoch (a fixed-seed sample when there are more).
    val_users: PositiveInt = 20_000
    batch_users: PositiveInt = 2_500
    train_users: PositiveInt = 10_000
    samples_per_user: PositiveInt = 10
    # Past this many customers a training step propagates a sampled subgraph, not the whole graph (as the
    # reference does on its largest dataset, MODELS.md 4.4): the batch's customers, up to subgraph_users more
    # drawn two hops away, and all their offers. None: every step propagates the whole graph.
    subgraph_above: PositiveInt | None = 1_000_000
    subgraph_users: PositiveInt = 40_000
    # Users per epoch with sampled subgraphs: their steps are about 20x cheaper than whole-graph ones, so an
    # epoch takes more of them and the whole-graph validation after it stays a small share of the time.
    subgraph_train_users: PositiveInt = 100_000
    mmoe_experts: PositiveInt = 3
    seed: NonNegativeInt = 0
    # Torch threads while training; None: torch's default (all cores). Results are the same run after run
    # for a given count (deterministic kernels), not across counts.
    threads: PositiveInt | None = None
    # Evaluation: sampled negatives per test positive (fewer when the catalogue is smaller) and the cut-off.
    eval_negatives: PositiveInt = 99
    top_k: PositiveInt = 10
    # Hold-out: each customer's first adoption of a new offer in this many days after the split date.
    holdout_days: PositiveInt = 90
    # The recommend stage: offers kept per customer, and the decimals of their scores.
    recommend_top: PositiveInt = 3
    score_decimals: NonNegativeInt = 4


class DriftConfig(BaseModel):
    """Drift policy: what counts as severe and what severe drift does."""

    reference_days: PositiveInt = 28
    severe_share_drifted: Fraction = 0.5
    on_severe: Literal["retrain", "hold", "warn"] = "retrain"
    # Distance methods only (drifted when value >= threshold), so one comparison rule holds for every column.
    method: Literal["wasserstein", "psi", "jensenshannon", "hellinger"] = "wasserstein"
    threshold: PositiveFloat = 0.1
    max_rows: PositiveInt = 50_000


class PublishConfig(BaseModel):
    """Lead-list shape."""

    top_per_territory: PositiveInt = 100
    explain_top: NonNegativeInt = 100
    # Bands of lists from a calibrated model: p_contract at least this many times the final task's base rate
    # is A, at least band_b_lift times B, else C.
    band_a_lift: float = 3.0
    band_b_lift: float = 1.5
    # Score cut-offs, used only for lists of a model stored without calibration.
    band_a_min: float = 80.0
    band_b_min: float = 50.0
    score_decimals: NonNegativeInt = 2
    probability_decimals: NonNegativeInt = 8
    artifact_top_leads: NonNegativeInt = 20

    # One list per value of this column: "station.<column>" of the prospect's station or "customer.<column>" of its
    # own row, as of D (README "Your own tables"); prospects without a value go to the list "unassigned".
    territory: str = "station.region"

    @field_validator("territory")
    @classmethod
    def _territory_column(cls, value: str) -> str:
        """A territory names a customer or station column of the contract."""
        entity, _, column = value.partition(".")
        if column not in TERRITORY_COLUMNS.get(entity, ()):
            choices = ", ".join(f"{e}.{c}" for e, cols in TERRITORY_COLUMNS.items() for c in cols)
            raise ValueError(f"territory {value!r} is not one of {choices}")
        return value

class ScoreConfig(BaseModel):
    """How the champion's two probabilities become one 0-100 score."""

    # score = 100 * weighted mean of each probability's percentile rank among D's prospects, so the score
    # reads "better than x% of today's prospects" whatever the calibration of the rare contract task.
    weight_high_interest: NonNegativeFloat = 0.3
    weight_contract: NonNegativeFloat = 0.7


class ExplainConfig(BaseModel):
    """When a SQL fact is strong enough to be stated as a reason (see README "Reason codes")."""

    growth_window_days: int = 30
    min_growth_ratio: float = 1.25
    min_recent_shipments: int = 3
    recent_activity_days: int = 7
    station_density_factor: float = 1.5
    min_partner_contracts: int = 1
    min_shared_accounts: int = 1
    min_company_signers: int = 1
    # R10: the share of the contract task's message (on its most attended relation) drawn from the interest task.
    min_shared_signal: float = 0.5
    # R11: the customer's own latest high-interest event (up to D) at most this many days ago.
    own_interest_days: int = 90


class SourceConfig(BaseModel):
    """Where one raw contract table comes from and how its columns map onto the contract (README "Your own tables")."""

    # landing: the dt=YYYY-MM-DD delivery folders under landing/<table> (what `simulate` writes);
    # files: a glob of CSV or Parquet files; database: a table or query of a DuckDB, SQLite or PostgreSQL database;
    # none: the table is absent (only for optional tables).
    kind: Literal["landing", "files", "database", "none"] = "landing"
    # files: a glob, relative to the home folder unless absolute; database: the database file (or a libpq
    # connection string for postgres).
    path: str | None = None
    # files: the format; by default the glob's suffix.
    format: Literal["csv", "parquet"] | None = None
    database_type: Literal["duckdb", "sqlite", "postgres"] = "sqlite"
    # database: one of table or query; a query runs inside the source database, in its own SQL.
    table: str | None = None
    query: str | None = None
    # Contract column -> source column, for the columns whose names differ.
    columns: dict[str, str] = {}
    # Contract column -> constant, for columns the source does not have.
    defaults: dict[str, str | int | float | bool] = {}
    # Contract column -> {source value: contract value}; values not listed pass through unchanged.
    values: dict[str, dict[str, str]] = {}
    # Contract date/time column -> strptime format of its text (otherwise DuckDB's ISO cast).
    date_formats: dict[str, str] = {}
    # folders: the dt=YYYY-MM-DD folder a file sits in dates its rows; column: the table's time column does.
    partition: Literal["folders", "column"] = "column"
    # The contract column that dates a row under partition = column; by default the table's time column.
    date_column: str | None = None
    # Ids are text (hexadecimal, e-mail, ...): each id column goes through a stable surrogate-key map (meta.id_map).
    string_ids: bool = False


class CheckConfig(BaseModel):
    """`leadgraph check`: how much of each source it reads."""

    sample_rows: int = Field(default=200_000, gt=0)


class ServeConfig(BaseModel):
    """The local Prefect server that `leadgraph serve` starts (schedules live in deployments/prefect.yaml)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 4200
    startup_timeout_s: PositiveFloat = 90.0
    max_concurrent_runs: PositiveInt = 1


class LockConfig(BaseModel):
    """One run per home at a time: what a second run does while the lock file names another holder."""

    on_busy: Literal["wait", "exit"] = "exit"
    wait_s: float = 3600.0
    poll_s: float = 2.0
    # How long a read-only verb (models, status) retries a warehouse a run is writing before using the snapshot.
    read_retry_s: float = 3.0


class DeskConfig(BaseModel):
    """The lead desk web page (`leadgraph desk`): where it listens, who may read it, how much it shows."""

    host: str = "127.0.0.1"
    port: int = 8420
    # token -> territories it may read (empty: all). Required as soon as the desk listens beyond the loopback.
    tokens: dict[str, tuple[str, ...]] = {}
    history_lists: int = 30
    recent_runs: int = 60
    # Neighbours drawn on the lead page, per kind (company siblings, account co-holders, shipping partners).
    neighbours_per_kind: int = 6
    # The browser the desk's tests and screenshot script drive (Debian's package; nothing is downloaded).
    browser: str = "/usr/bin/chromium"


class AllocatorConfig(BaseModel):
    """glibc's allocator in the lead model's training and scoring stages; elsewhere a no-op."""

    # glibc gives each block above its mmap threshold (at most 32 MiB) a fresh mapping, whose pages the kernel
    # zeroes on first touch, and returns it on free. At paper scale the large tensors of a mini-batch step and of a
    # layer-wise pass are such blocks: the faults cost about 40% of an epoch and a third of a validation pass
    # (benchmarks/results/allocator.md). Blocks below mmap_threshold_mib come from the heap and are reused;
    # free heap above trim_threshold_mib goes back to the system. 0 keeps glibc's default.
    mmap_threshold_mib: NonNegativeInt = 1024
    trim_threshold_mib: NonNegativeInt = 512


class Settings(BaseModel):
    """All of leadgraph's configuration."""

    paths: Paths
    simulate: SimulateConfig = Field(default_factory=SimulateConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    graph: GraphConfig = Field(default_factory=GraphConfig)
    labels: LabelConfig = Field(default_factory=LabelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    offers: OfferConfig = Field(default_factory=OfferConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    # Raw contract table -> its source; a table not listed comes from landing/.
    sources: dict[str, SourceConfig] = {}
    check: CheckConfig = Field(default_factory=CheckConfig)
    lock: LockConfig = Field(default_factory=LockConfig)
    desk: DeskConfig = Field(default_factory=DeskConfig)
    allocator: AllocatorConfig = Field(default_factory=AllocatorConfig)

    model_config = {"populate_by_name": True}

    @field_validator("sources")
    @classmethod
    def _known_tables(cls, sources: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        """Sources name contract tables only."""
        unknown = sorted(set(sources) - set(RAW_TABLES))
        if unknown:
            raise ValueError(f"sources for unknown table(s) {', '.join(unknown)}; contract tables are {', '.join(RAW_TABLES)}")
        absent = sorted(t for t in REQUIRED_TABLES if sources.get(t) and sources[t].kind == "none")
        if absent:
            raise ValueError(f"{', '.join(absent)}: a required table cannot have kind = \"none\"")
        return sources

    @field_validator("validate_")
    @classmethod
    def _known_check_tables(cls, cfg: ValidateConfig) -> ValidateConfig:
        """Per-table checks name contract tables only."""
        unknown = sorted(set(cfg.tables) - set(RAW_TABLES))
        if unknown:
            raise ValueError(f"validate.tables names unknown table(s) {', '.join(unknown)}; contract tables are {', '.join(RAW_TABLES)}")
        return cfg

    def source(self, table: str) -> SourceConfig:
        """The source of one contract table (landing/ unless configured)."""
        return self.sources.get(table) or SourceConfig()


def load_settings(home: Path | None = None, config_file: Path | None = None, sets: Sequence[str] = ()) -> Settings:
    """The resolved settings: defaults, project file, environment, then `sets` (see leadgraph/settings_loader.py)."""
    from leadgraph.settings_loader import resolve

    return resolve(home, config_file, sets).settings
