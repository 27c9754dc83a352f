"""What every table suite is made of: the table's keys and references, and builders for rule-named expectations.

Each expectation carries `meta = {"rule", "level", "quarantine"}`: the rule name used in
meta.quarantine and meta.validation_results, whether it judges rows or the whole batch, and whether
rows breaking it are quarantined (uniqueness is reported here but decided in SQL over the as-of state,
which keeps the first delivery of a key).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

from leadgraph.config import ValidateConfig

PARTITION_END = "_partition_end"
# A column holding validate.earliest_plausible: GE's between-check on datetimes runs per row in Python,
# its pair comparison is vectorised.
EARLIEST = "_earliest"
REJECT = "_reject"


@dataclass(frozen=True)
class TableSpec:
    """A raw table's identity for validation: key, version column, event time, text columns and references."""

    name: str
    key: tuple[str, ...]
    time_column: str
    text_columns: tuple[str, ...]
    version_column: str | None = None
    references: dict[str, str] = field(default_factory=dict)

    @property
    def unique_columns(self) -> tuple[str, ...]:
        """Columns that identify one delivered row: the key, plus the version for change-row tables."""
        return self.key + ((self.version_column,) if self.version_column else ())


def _meta(rule: str, level: str = "row", quarantine: bool = True) -> dict:
    """The meta block that names an expectation's rule."""
    return {"rule": rule, "level": level, "quarantine": quarantine}


def parsed() -> Expectation:
    """Every delivered line parsed and every value cast to its contract type."""
    return gxe.ExpectColumnValuesToBeNull(column=REJECT, meta=_meta("parsed_and_typed"))


def not_null(*columns: str) -> list[Expectation]:
    """Required columns."""
    return [gxe.ExpectColumnValuesToNotBeNull(column=c, meta=_meta(f"not_null:{c}")) for c in columns]


def positive_ids(*columns: str) -> list[Expectation]:
    """Identifiers are positive integers."""
    return [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=1, meta=_meta(f"positive_id:{c}")) for c in columns]


def between(column: str, rule: str, **bounds: float | bool) -> Expectation:
    """A numeric range."""
    return gxe.ExpectColumnValuesToBeBetween(column=column, **bounds, meta=_meta(rule))


def one_of(column: str, values: list[str]) -> Expectation:
    """An allowed-values list."""
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values, meta=_meta(f"allowed_values:{column}"))


def text_lengths(columns: tuple[str, ...], cfg: ValidateConfig) -> list[Expectation]:
    """Text fields of sane length (a runaway field usually means a broken quote upstream)."""
    return [
        gxe.ExpectColumnValueLengthsToBeBetween(column=c, max_value=cfg.max_text_length, meta=_meta(f"max_length:{c}"))
        for c in columns
    ]


def bounded(table: str, cfg: ValidateConfig) -> list[Expectation]:
    """Numbers finite and within the table's contract bounds (the batch turns NaN into +inf so it is caught)."""
    return [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=b.min, max_value=b.max, meta=_meta(f"finite_in_range:{c}"))
        for c, b in cfg.number_bounds.get(table, {}).items()
    ]


def unique(spec: TableSpec) -> Expectation:
    """Key uniqueness within the batch; reported here, quarantined by the as-of SQL check."""
    meta = _meta("unique_in_batch", quarantine=False)
    if len(spec.unique_columns) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=spec.unique_columns[0], meta=meta)
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(spec.unique_columns), meta=meta)


def dated_sanely(column: str) -> list[Expectation]:
    """Not before a plausible start, and not after the end of the partition's day."""
    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=column,
            column_B=EARLIEST,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta(f"plausible_date:{column}"),
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=PARTITION_END,
            column_B=column,
            or_equal=False,
            ignore_row_if="either_value_is_missing",
            meta=_meta(f"not_after_partition:{column}"),
        ),
    ]


def ordered(earlier: str, later: str) -> Expectation:
    """One timestamp never precedes another (e.g. created before updated)."""
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=later, column_B=earlier, or_equal=True, ignore_row_if="either_value_is_missing", meta=_meta(f"ordered:{earlier}<={later}")
    )


def row_count_ratio(min_ratio: float) -> list[Expectation]:
    """For the partition-count batch: each partition holds at least a share of its trailing median."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="ratio_to_trailing_median", min_value=min_ratio, meta=_meta("row_count_vs_trailing_median", level="table", quarantine=False)
        )
    ]


def standard(spec: TableSpec, cfg: ValidateConfig, required: tuple[str, ...]) -> list[Expectation]:
    """The rules every table shares: parsed, required, positive key, unique, sane dates, sane text.

    References need no range rule of their own: an id that no row has is caught as an orphan.
    """
    return [
        parsed(),
        *not_null(*required),
        *positive_ids(*spec.key),
        unique(spec),
        *dated_sanely(spec.time_column),
        *text_lengths(spec.text_columns, cfg),
        *bounded(spec.name, cfg),
    ]
