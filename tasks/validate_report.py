"""What a validation run found: per-rule results, table-level failures, and their text and HTML renderings."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from leadgraph.errors import RunHeld


class ValidationFailed(RunHeld):
    """A table-level failure: the run stops and downstream stages keep yesterday's outputs."""


@dataclass
class RuleResult:
    """One rule on one table for one run (row rules summed over the run's batches)."""

    table: str
    rule: str
    level: str
    success: bool
    checked: int
    failed: int
    detail: str


@dataclass
class TableFailure:
    """A reason to stop the run, with the evidence a person needs to act on it."""

    table: str
    rule: str
    message: str
    examples: list[str] = field(default_factory=list)


@dataclass
class ValidationReport:
    """The result of one validation run."""

    as_of: date
    initial: bool
    results: list[RuleResult] = field(default_factory=list)
    failures: list[TableFailure] = field(default_factory=list)
    covered: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    docs: Path | None = None
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        """True when no table-level rule failed."""
        return not self.failures

    def failure_message(self) -> str:
        """Multi-line text naming each failing table, rule, counts and a few example rows."""
        lines = [f"validation as of {self.as_of} failed: {len(self.failures)} table-level failure(s)"]
        for f in self.failures:
            lines.append(f"  {f.table}: rule {f.rule}: {f.message}")
            lines.extend(f"      e.g. {example}" for example in f.examples)
        if self.docs is not None:
            lines.append(f"  details: {self.docs}")
        return "\n".join(lines)

    def render(self) -> str:
        """A short human summary: rows checked and quarantined per table, failing rules, docs location."""
        kind = "initial load" if self.initial else "daily"
        lines = [f"validation as of {self.as_of} ({kind}): {'passed' if self.success else 'FAILED'} in {self.seconds:.1f}s"]
        for table, rows in self.covered.items():
            lines.append(f"  {table:<18} {rows:>12,} rows checked  {self.quarantined.get(table, 0):>8,} quarantined")
        for r in self.results:
            if not r.success:
                lines.append(f"  {r.level} rule {r.table}.{r.rule}: {r.failed:,} of {r.checked:,} ({r.detail[:160]})")
        if self.failures:
            lines.append(self.failure_message())
        if self.docs is not None:
            lines.append(f"  data docs: {self.docs}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """A one-page summary of every rule (GE suites and SQL checks), linking to GE's Data Docs."""
        rows = "\n".join(
            f"<tr class='{'ok' if r.success else 'bad'}'><td>{html.escape(r.table)}</td><td>{html.escape(r.rule)}</td>"
            f"<td>{r.level}</td><td>{'pass' if r.success else 'FAIL'}</td><td>{r.checked:,}</td><td>{r.failed:,}</td>"
            f"<td>{html.escape(r.detail[:300])}</td></tr>"
            for r in self.results
        )
        failures = "".join(
            f"<li><b>{html.escape(f.table)}</b>: {html.escape(f.rule)}: {html.escape(f.message)}<ul>"
            + "".join(f"<li><code>{html.escape(e)}</code></li>" for e in f.examples)
            + "</ul></li>"
            for f in self.failures
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>leadgraph validation "
            f"{self.as_of}</title><style>body{{font-family:sans-serif}}td,th{{padding:2px 8px}}"
            ".bad{background:#fdd}</style></head><body>"
            f"<h1>Validation as of {self.as_of}: {'passed' if self.success else 'FAILED'}</h1>"
            f"<p><a href='index.html'>Great Expectations Data Docs</a></p>"
            f"<h2>Table-level failures</h2><ul>{failures or '<li>none</li>'}</ul>"
            "<h2>All rules</h2><table><tr><th>table</th><th>rule</th><th>level</th><th>result</th>"
            f"<th>checked</th><th>failed</th><th>detail</th></tr>{rows}</table></body></html>"
        )
