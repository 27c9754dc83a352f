"""Run expectation suites on pandas batches in an ephemeral Great Expectations context, and build Data Docs.

GE's SQL path on DuckDB is broken (see the stack notes), so batches are data frames pulled from DuckDB.
"""

from __future__ import annotations

import gc
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import great_expectations as gx
import pandas as pd
from great_expectations.data_context import set_context
from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig
from great_expectations.expectations.expectation import Expectation

INDEX_COLUMNS = ["_file", "_row"]
SITE = "leadgraph"


@dataclass
class Outcome:
    """One expectation on one batch, with the lineage of the rows that broke it."""

    rule: str
    level: str
    quarantine: bool
    success: bool
    checked: int
    failed: int
    detail: str
    rows: list[tuple] = field(default_factory=list)


class SuiteRunner:
    """One ephemeral context per validation run; one suite, validation definition and checkpoint per name.

    Close it when done: GE keeps the newest context as its process-wide project, and with it the last batch of every
    table and every result, gigabytes after a first validation of a long history, for as long as the process lives.
    """

    def __init__(self, docs_dir: Path | None) -> None:
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False),
            analytics_enabled=False,
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.docs_dir = docs_dir
        if docs_dir is not None:
            shutil.rmtree(docs_dir, ignore_errors=True)
            self.context.add_data_docs_site(
                site_name=SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        self.source = self.context.data_sources.add_pandas("warehouse")
        self.checkpoints: dict[str, gx.Checkpoint] = {}

    def _checkpoint(self, name: str, expectations: list[Expectation], index_columns: list[str]) -> gx.Checkpoint:
        """Create the suite and checkpoint for a batch name on first use."""
        if name not in self.checkpoints:
            batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
            suite = self.context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
            definition = self.context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
            result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": index_columns}
            self.checkpoints[name] = self.context.checkpoints.add(
                gx.Checkpoint(name=name, validation_definitions=[definition], result_format=result_format)
            )
        return self.checkpoints[name]

    def run(self, name: str, expectations: list[Expectation], frame: pd.DataFrame, index_columns: list[str] = INDEX_COLUMNS) -> list[Outcome]:
        """Validate one frame; every expectation's result, with the (_file, _row) of failing rows."""
        result = self._checkpoint(name, expectations, index_columns).run(batch_parameters={"dataframe": frame})
        outcomes = []
        for run in result.run_results.values():
            for item in run.results:
                meta = item.expectation_config.meta or {}
                info = item.result or {}
                raised = item.exception_info.get("raised_exception", False) if item.exception_info else False
                rows = [tuple(r[c] for c in index_columns) for r in info.get("unexpected_index_list") or []]
                if raised:
                    detail = f"error: {item.exception_info.get('exception_message')}"
                elif "observed_value" in info:
                    detail = f"observed {info['observed_value']}"
                else:
                    examples = ", ".join(repr(v) for v in (info.get("partial_unexpected_list") or [])[:3])
                    detail = f"{info.get('unexpected_count', 0)} unexpected, e.g. {examples}"
                outcomes.append(
                    Outcome(
                        rule=meta.get("rule", item.expectation_config.type),
                        level=meta.get("level", "row"),
                        quarantine=bool(meta.get("quarantine", False)) and not raised,
                        success=bool(item.success),
                        checked=int(info.get("element_count", len(frame))),
                        failed=int(info.get("unexpected_count", 0 if item.success else len(frame))),
                        detail=detail,
                        rows=rows,
                    )
                )
        return outcomes

    def build_docs(self) -> Path | None:
        """Render Data Docs for every validation run in this context; the index page, if docs were asked for."""
        if self.docs_dir is None:
            return None
        self.context.build_data_docs(site_names=[SITE])
        return self.docs_dir / "index.html"

    def close(self) -> None:
        """Let go of the context and everything it holds, and free the run's batches and results now."""
        set_context(None)
        self.checkpoints.clear()
        del self.context, self.source
        # GE's objects refer to one another in cycles, which only the cyclic collector frees; left to itself it
        # may not run before the next stage, which allocates arrays rather than objects, has peaked.
        gc.collect()
