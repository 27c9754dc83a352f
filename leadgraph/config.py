"""The one typed place for leadgraph's configuration: paths under the home folder and every stage's knobs."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

RAW_TABLES: tuple[str, ...] = (
    "stations",
    "companies",
    "customers",
    "accounts",
    "customer_accounts",
    "shipments",
    "sales_events",
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
    def exports(self) -> Path:
        return self.home / "exports" / "leads"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    def partition(self, table: str, day: date) -> Path:
        """The landing folder of one table's daily partition."""
        return self.landing / table / f"dt={day.isoformat()}"


class SimulateConfig(BaseModel):
    """Defaults for `leadgraph simulate`."""

    scale: Literal["tiny", "small", "paper"] = "tiny"
    start: date = date(2025, 1, 1)
    end: date = date(2025, 12, 31)
    seed: int = 7
    defect_rate: float = 0.0


class ValidateConfig(BaseModel):
    """Thresholds that turn row-level failures into a table-level stop."""

    max_bad_row_fraction: float = 0.05
    min_rows_vs_trailing_median: float = 0.2
    trailing_days: int = 14
    max_staleness_days: int = 3


class GraphConfig(BaseModel):
    """Feature windows of the as-of snapshot."""

    windows_days: tuple[int, ...] = (7, 30, 90)


class LabelConfig(BaseModel):
    """Label windows and the anchor-date split."""

    high_interest_days: int = 30
    contract_days: int = 90
    activity_lookback_days: int = 90
    anchor_stride_days: int = 14
    train_anchors: int = 3


class TrainConfig(BaseModel):
    """Model choice and optimisation."""

    model: str = "struchis"
    hidden: int = 64
    layers: int = 3
    dropout: float = 0.2
    lr: float = 5e-3
    weight_decay: float = 0.0
    max_epochs: int = 200
    eval_every: int = 5
    patience: int = 8
    loss_weights: tuple[float, float] = (0.3, 0.7)
    seed: int = 0
    full_batch_max_nodes: int = 400_000
    batch_size: int = 4096
    fanouts: tuple[int, ...] = (10, 10, 5, 5)
    retrain_every_days: int = 7
    promotion_margin: float = 0.0


class DriftConfig(BaseModel):
    """Drift policy: what counts as severe and what severe drift does."""

    reference_days: int = 28
    severe_share_drifted: float = 0.5
    on_severe: Literal["retrain", "hold", "warn"] = "retrain"


class PublishConfig(BaseModel):
    """Lead-list shape."""

    top_per_territory: int = 100
    explain_top: int = 100
    band_a_min: float = 80.0
    band_b_min: float = 50.0


class Settings(BaseModel):
    """All of leadgraph's configuration."""

    paths: Paths
    simulate: SimulateConfig = Field(default_factory=SimulateConfig)
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    graph: GraphConfig = Field(default_factory=GraphConfig)
    labels: LabelConfig = Field(default_factory=LabelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)

    model_config = {"populate_by_name": True}


def home_dir() -> Path:
    """The home folder: LEADGRAPH_HOME, or ./var."""
    return Path(os.environ.get("LEADGRAPH_HOME", "var")).resolve()


def load_settings(home: Path | None = None) -> Settings:
    """Settings for a home folder (defaults to LEADGRAPH_HOME)."""
    return Settings(paths=Paths(home=home or home_dir()))
