"""Reliability on the tiny world: the team's catalogue of bad inputs, and a kill at every stage of a daily run.

Usage: python -m benchmarks.reliability [--work DIR] [--only CLASS,...] [--budget-min M] [--resume]
Writes benchmarks/results/reliability.md (not with --only) after the bad inputs and after each kill point;
no kill point starts once M minutes are spent (the page names those not run).

1. A base home: the tiny world (2025-01-01 .. D = 2025-08-31, seed 7) with D-1 published by a real daily
   run (a small model, as in the flow tests), so yesterday's lists exist and can be checked.
2. Bad inputs: for each class, a copy of the base home gets one defect in D's landing partition, then
   ingest and validate run as of D (the stages that must stop a bad input). Recorded: what happened, the
   rows of D's loaded files that reached neither the raw tables nor the rejects (lost), and whether the
   published lists of D-1 are byte for byte as before. "clean" means no crash, the defect named (a
   rejected or ignored file, quarantined rows, a held day or a warning) or, for deliveries that are
   merely unusual, every row loaded, with nothing lost and the lists intact.
3. Kill points: a copy of the base home runs D in a child process (training due, so every stage runs);
   the child is killed with SIGKILL soon after a stage starts; the lists are checked; D is run again to
   the end, and its lists are compared byte for byte with those of an uninterrupted run.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks import machine
from leadgraph.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "benchmarks" / "results" / "reliability.md"
START, D = date(2025, 1, 1), date(2025, 8, 31)
YESTERDAY = D - timedelta(days=1)
SEED = 7
# Small lead and offer models (the run's wiring and its recovery are under test, not the models' quality), and label windows
# that fit the tiny world's eight months (README "Anchors and labels"), as --set items.
OVERRIDES = [
    "train.max_epochs=2", "train.eval_every=1", "train.hidden=16", "train.layers=2", "train.refit=false",
    "labels.train_anchors=2", "offers.epochs=1", "offers.batch_users=1024", "offers.train_users=1024",
    "offers.samples_per_user=5",
    'labels.tasks=[{ key = "high_interest", name = "high interest", outcomes = ["high_interest"], window_days = 28 }, '
    '{ key = "contract", name = "contract signed", outcomes = ["contract_signed"], window_days = 42 }]',
]
# D's run trains again (the serving model is one day old), so a kill can land in training.
KILL_OVERRIDES = [*OVERRIDES, "train.retrain_every_days=1"]
KILL_STAGES = ("validate", "graph", "train", "score", "recommend", "drift", "publish")
RUN_TIMEOUT_S = 900


# ---------------------------------------------------------------- helpers on D's landing partition

def _file(s: Settings, table: str) -> Path:
    """The first delivered file of a table's partition D."""
    return sorted(s.paths.partition(table, D).iterdir())[0]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _edit_line(s: Settings, table: str, row: int, edit: Callable[[list[str]], list[str]]) -> None:
    """Rewrite the fields of one data row (1-based) of a CSV partition file."""
    path = _file(s, table)
    lines = _lines(path)
    fields = next(csv.reader([lines[row]]))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(edit(fields))
    lines[row] = out.getvalue()
    path.write_text("".join(lines), encoding="utf-8")


def _set_field(s: Settings, table: str, column: str, value: str, row: int = 1) -> None:
    header = next(csv.reader([_lines(_file(s, table))[0]]))
    index = header.index(column)
    _edit_line(s, table, row, lambda f: f[:index] + [value] + f[index + 1:])


def _frame(s: Settings, table: str) -> pd.DataFrame:
    return pq.read_table(_file(s, table)).to_pandas()


def _write_frame(s: Settings, table: str, frame: pd.DataFrame, schema: pa.Schema | None = None) -> None:
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), _file(s, table))


def _set_value(s: Settings, table: str, column: str, value: object, row: int = 0) -> None:
    """One value of a Parquet partition, keeping its type (NaN and infinities stay what they are)."""
    table_ = pq.read_table(_file(s, table))
    values = table_.column(column).to_pylist()
    values[row] = value
    table_ = table_.set_column(table_.schema.get_field_index(column), column, pa.array(values, type=table_.schema.field(column).type, from_pandas=False))
    pq.write_table(table_, _file(s, table))


def _damage_page(s: Settings, table: str) -> None:
    path = _file(s, table)
    column = pq.read_metadata(path).row_group(0).column(3)
    data = bytearray(path.read_bytes())
    for i in range(column.data_page_offset + 20, column.data_page_offset + column.total_compressed_size - 2):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _zip(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(path.name, path.read_bytes())
    return buffer.getvalue()


def _extra_file(s: Settings, table: str, name: str, content: bytes) -> None:
    (s.paths.partition(table, D) / name).write_bytes(content)


def _move_partition(s: Settings, table: str, folder: str) -> None:
    source = s.paths.partition(table, D)
    source.rename(source.parent / folder)


def _latin1_name(s: Settings, table: str) -> None:
    """A name with an accent, written as Latin-1 inside an otherwise UTF-8 file."""
    _set_field(s, table, "name", "Caf\u00e9 Lin")
    path = _file(s, table)
    path.write_bytes(path.read_bytes().replace("Caf\u00e9".encode(), "Caf\u00e9".encode("latin-1")))


def _open_quote(s: Settings, table: str, row: int) -> None:
    """A quote opened in the second field of one line and never closed."""
    path = _file(s, table)
    lines = _lines(path)
    lines[row] = lines[row].replace(",", ',"', 1)
    path.write_text("".join(lines), encoding="utf-8")


def _append_copy_of_row(s: Settings, table: str, row: int = 1) -> None:
    path = _file(s, table)
    lines = _lines(path)
    path.write_text("".join(lines) + lines[row], encoding="utf-8")


# ---------------------------------------------------------------- the catalogue

@dataclass(frozen=True)
class BadInput:
    """One class of bad (or merely unusual) delivery: how to make it, and whether it must be flagged."""

    name: str
    make: Callable[[Settings], None]
    flagged: bool = True


CATALOGUE: tuple[BadInput, ...] = (
    BadInput("empty file (0 bytes)", lambda s: _file(s, "customers").write_bytes(b"")),
    BadInput("header only", lambda s: _file(s, "sales_events").write_text(_lines(_file(s, "sales_events"))[0])),
    BadInput("missing required column", lambda s: _file(s, "customers").write_text(
        "".join(",".join(next(csv.reader([ln]))[1:]) + "\n" for ln in _lines(_file(s, "customers"))))),
    BadInput("extra unknown column", lambda s: _file(s, "sales_events").write_text(
        "".join(ln.rstrip("\n") + (",note\n" if i == 0 else ",x\n") for i, ln in enumerate(_lines(_file(s, "sales_events")))))),
    BadInput("semicolon delimiter", lambda s: _file(s, "customers").write_text(_file(s, "customers").read_text().replace(",", ";"))),
    BadInput("Latin-1 bytes in UTF-8 CSV", lambda s: _latin1_name(s, "customers")),
    BadInput("UTF-16 CSV", lambda s: _file(s, "sales_events").write_bytes(_file(s, "sales_events").read_text().encode("utf-16"))),
    BadInput("gzip bytes under .csv", lambda s: _file(s, "customers").write_bytes(gzip.compress(_file(s, "customers").read_bytes()))),
    BadInput("zip archive under .csv", lambda s: _file(s, "sales_events").write_bytes(_zip(_file(s, "sales_events")))),
    BadInput("Parquet bytes under .csv", lambda s: _file(s, "sales_events").write_bytes(pq.read_table(_file(s, "shipments")).to_pandas().to_parquet())),
    BadInput("binary junk (NUL bytes) in CSV", lambda s: _file(s, "customers").write_bytes(b"\x00\x01\x02" * 100)),
    BadInput("CSV truncated mid-line", lambda s: _file(s, "sales_events").write_bytes(_file(s, "sales_events").read_bytes()[:-25])),
    BadInput("unbalanced quote", lambda s: _open_quote(s, "customers", 2)),
    BadInput("line with two surplus fields", lambda s: _edit_line(s, "sales_events", 3, lambda f: f + ["x", "y"])),
    BadInput("line missing its last field", lambda s: _edit_line(s, "sales_events", 3, lambda f: f[:-1])),
    BadInput("unparseable number (CSV)", lambda s: _set_field(s, "customers", "station_id", "12kg")),
    BadInput("unparseable timestamp (CSV)", lambda s: _set_field(s, "sales_events", "event_at", "2025-13-45 25:61:00")),
    BadInput("empty required key", lambda s: _set_field(s, "sales_events", "event_id", "")),
    BadInput("duplicate row (CSV)", lambda s: _append_copy_of_row(s, "sales_events")),
    BadInput("orphan foreign key", lambda s: _set_field(s, "sales_events", "customer_id", "9000000000001")),
    BadInput("unknown category", lambda s: _set_field(s, "sales_events", "outcome", "maybe")),
    BadInput("event after its partition day", lambda s: _set_field(s, "sales_events", "event_at", f"{D + timedelta(days=60)} 10:00:00")),
    BadInput("event before 2000", lambda s: _set_field(s, "sales_events", "event_at", "1970-01-01 00:00:00")),
    BadInput("100 kB text field", lambda s: _set_field(s, "customers", "name", "N" * 100_000)),
    BadInput("CRLF line ends", lambda s: _file(s, "sales_events").write_bytes(_file(s, "sales_events").read_bytes().replace(b"\n", b"\r\n")), flagged=False),
    BadInput("UTF-8 byte-order mark", lambda s: _file(s, "sales_events").write_bytes(b"\xef\xbb\xbf" + _file(s, "sales_events").read_bytes()), flagged=False),
    BadInput("partition folder dt=YYYYMMDD", lambda s: _move_partition(s, "sales_events", f"dt={D:%Y%m%d}")),
    BadInput("file with a foreign extension", lambda s: _extra_file(s, "customers", "part-9.txt", _file(s, "customers").read_bytes())),
    BadInput("same file delivered twice", lambda s: _extra_file(s, "sales_events", "part-copy.csv", _file(s, "sales_events").read_bytes())),
    BadInput("partition dated in the future", lambda s: shutil.copytree(
        s.paths.partition("sales_events", D), s.paths.partition("sales_events", date.today() + timedelta(days=400)))),
    BadInput("a table's partition of D missing", lambda s: shutil.rmtree(s.paths.partition("sales_events", D)), flagged=False),
    BadInput("Parquet truncated (no footer)", lambda s: _file(s, "shipments").write_bytes(_file(s, "shipments").read_bytes()[:-100])),
    BadInput("Parquet data page damaged, footer intact", lambda s: _damage_page(s, "shipments")),
    BadInput("text under a .parquet name", lambda s: _file(s, "shipments").write_bytes(b"shipment_id,weight_kg\n1,2\n")),
    BadInput("Parquet missing a required column", lambda s: _write_frame(s, "shipments", _frame(s, "shipments").drop(columns=["weight_kg"]))),
    BadInput("Parquet number column as text", lambda s: _write_frame(s, "shipments", _frame(s, "shipments").assign(
        weight_kg=lambda f: f["weight_kg"].astype(str).where(f.index != 0, "heavy")))),
    BadInput("int64 in a Parquet timestamp column", lambda s: _write_frame(s, "shipments", _frame(s, "shipments").assign(
        shipped_at=lambda f: f["shipped_at"].astype("int64")))),
    BadInput("NaN weight", lambda s: _set_value(s, "shipments", "weight_kg", math.nan)),
    BadInput("+inf fee", lambda s: _set_value(s, "shipments", "fee", math.inf)),
    BadInput("1e308 fee", lambda s: _set_value(s, "shipments", "fee", 1e308)),
    BadInput("negative weight", lambda s: _set_value(s, "shipments", "weight_kg", -3.0)),
    BadInput("null key in Parquet", lambda s: _set_value(s, "shipments", "shipment_id", None)),
    BadInput("Parquet with zero rows", lambda s: _write_frame(s, "shipments", _frame(s, "shipments").iloc[:0])),
    BadInput("duplicate key (Parquet)", lambda s: _write_frame(s, "shipments", pd.concat([_frame(s, "shipments"), _frame(s, "shipments").iloc[:1]]))),
    BadInput("-inf capital (CSV text)", lambda s: _set_field(s, "companies", "registered_capital", "-inf")),
    BadInput("NaN capital (CSV text)", lambda s: _set_field(s, "companies", "registered_capital", "NaN")),
    BadInput("latitude 999", lambda s: _set_field(s, "stations", "lat", "999")),
)


# ---------------------------------------------------------------- measuring one home

def _tree_digest(folder: Path) -> str:
    """sha256 over every file under a folder (names and bytes); symlinks followed."""
    h = hashlib.sha256()
    if folder.exists():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".versions" not in p.parts):
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _published(s: Settings, day: date) -> str:
    return _tree_digest(s.paths.exports / f"as_of={day.isoformat()}")


def _delivered_rows(path: Path) -> int | None:
    """Data rows a file holds as delivered (physical lines after the header, or Parquet rows); None if unreadable."""
    try:
        if path.suffix == ".parquet":
            return pq.read_metadata(path).num_rows
        data = path.read_bytes()
        lines = [ln for ln in data.split(b"\n") if ln.strip(b"\r")]
        return max(len(lines) - 1, 0)
    except Exception:  # an unreadable file holds no countable rows; ingest has to name it
        return None


def _lost_rows(s: Settings) -> int:
    """Rows of D's loaded files that reached neither the raw table nor the rejects."""
    with duckdb.connect(str(s.paths.warehouse), read_only=True) as con:
        loaded = con.execute("""SELECT table_name, file FROM meta.ingest_log WHERE partition_dt = ? AND status = 'loaded'
                                QUALIFY row_number() OVER (PARTITION BY file ORDER BY loaded_at DESC) = 1""", [D]).fetchall()
        lost = 0
        for table, rel in loaded:
            delivered = _delivered_rows(s.paths.landing / rel)
            kept = con.execute(f"SELECT count(*) FROM raw.{table} WHERE _file = ?", [rel]).fetchall()[0][0]
            lost += max((delivered or 0) - kept, 0)
    return lost


def _d_findings(s: Settings) -> tuple[list[str], int]:
    """Statuses of D's files other than loaded, and quarantined rows of D's files."""
    with duckdb.connect(str(s.paths.warehouse), read_only=True) as con:
        statuses = con.execute("""SELECT status || ' ' || coalesce(file, table_name) FROM meta.ingest_log
                                  WHERE (partition_dt = ? OR partition_dt > current_date) AND status NOT IN ('loaded')
                                  ORDER BY 1""", [D]).fetchall()
        quarantined = con.execute("SELECT count(DISTINCT _file || _row) FROM meta.quarantine WHERE _file LIKE ?",
                                  [f"%dt={D.isoformat()}%"]).fetchall()[0][0]
    return [r[0] for r in statuses], quarantined


def bad_input(base: Path, work: Path, case: BadInput) -> dict:
    """Inject one class into a copy of the base home, ingest and validate D, and measure."""
    from tasks.ingest import ingest
    from tasks.validate import ValidationFailed, validate

    home = work / "case"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(base, home, symlinks=True, ignore=shutil.ignore_patterns("prefect"))
    s = load_settings(home)
    s.validate_.data_docs = False
    before = _published(s, YESTERDAY)
    case.make(s)
    landing_before = _tree_digest(s.paths.landing)
    started = time.perf_counter()
    held, crash, notes = "", "", []
    try:
        report = ingest(s, D)
        notes = [n for n in report.notes] + [f"{o.file}: {o.message}" for o in report.outcomes if o.message and o.status == "loaded"]
        try:
            validate(s, D)
        except ValidationFailed as failure:
            held = str(failure).splitlines()[1].strip() if len(str(failure).splitlines()) > 1 else str(failure)
    except Exception as err:  # a crash is a finding, recorded with its type
        crash = f"{type(err).__name__}: {' '.join(str(err).split())[:150]}"
        traceback.print_exc()
    seconds = time.perf_counter() - started
    statuses, quarantined = ([], 0) if crash else _d_findings(s)
    statuses = [st for st in statuses if not st.startswith("no_data") or case.name.startswith("a table")]
    lost = 0 if crash else _lost_rows(s)
    intact = _published(s, YESTERDAY) == before and _tree_digest(s.paths.landing) == landing_before
    named = bool(statuses or quarantined or held or notes)
    clean = not crash and lost == 0 and intact and (named if case.flagged else True)
    what = crash or "; ".join(filter(None, [", ".join(statuses), f"{quarantined} rows quarantined" if quarantined else "",
                                            f"held ({held[:110]})" if held else "", f"warning: {notes[0][:110]}" if notes else ""]))
    return {"class": case.name, "outcome": what or "loaded, nothing to flag", "lost": lost, "intact": intact,
            "clean": clean, "seconds": seconds}


# ---------------------------------------------------------------- kill points

CHILD = """
import sys, json
from datetime import date
from pathlib import Path
from flows.daily import daily_leads
from leadgraph.config import load_settings
settings = load_settings(Path(sys.argv[2]), sets=json.loads(sys.argv[3]))
print(daily_leads(as_of=date.fromisoformat(sys.argv[1]), settings=settings), flush=True)
"""


def _child(home: Path, day: date, overrides: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_HOME": str(home / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
           # A busy machine needs far longer than Prefect's default to start its embedded API.
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600"}
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    # Its own process group, so a kill takes the embedded Prefect server down with the run, as a crash would.
    return subprocess.Popen([sys.executable, "-c", CHILD, day.isoformat(), str(home), json.dumps(overrides)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def run_day(home: Path, day: date, overrides: list[str]) -> str:
    """Run the daily flow for a day in a child process to the end; its last line."""
    proc = _child(home, day, overrides)
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"daily run of {day} failed:\n{out[-3000:]}")
    return out.strip().splitlines()[-1]


def _stage_running(home: Path, stage: str) -> bool:
    """Whether the run's snapshot shows `stage` started."""
    try:
        doc = json.loads((home / "meta_snapshot.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(r["stage"] == stage and r["state"] == "running" for r in doc.get("run_stages", []))


def _lists_consistent(s: Settings, day: date) -> bool:
    """D's lists are absent or complete: every file the manifest names is there with its checksum."""
    folder = s.paths.exports / f"as_of={day.isoformat()}"
    if not folder.exists():
        return True
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entries = [*manifest["territories"], manifest["parquet"]]
    return all(hashlib.sha256((folder / e["file"]).read_bytes()).hexdigest() == e["sha256"] for e in entries)


def _list_bytes(s: Settings, day: date) -> str:
    """Digest of D's CSVs and Parquet (the manifest's generated time left out)."""
    folder = s.paths.exports / f"as_of={day.isoformat()}"
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.csv")) + [folder / "leads.parquet"]:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def kill_point(base: Path, work: Path, stage: str, reference: str) -> dict:
    """Kill D's run soon after `stage` starts, check the lists, run D again, compare with the reference."""
    home = work / f"kill-{stage}"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(base, home, symlinks=True, ignore=shutil.ignore_patterns("prefect"))
    s = load_settings(home)
    before = _published(s, YESTERDAY)
    proc = _child(home, D, KILL_OVERRIDES)
    reached = False
    while proc.poll() is None:
        if _stage_running(home, stage):
            reached = True
            time.sleep(0.5)
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    proc.communicate(timeout=RUN_TIMEOUT_S)
    consistent = _lists_consistent(s, D) and _published(s, YESTERDAY) == before
    started = time.perf_counter()
    try:
        last = run_day(home, D, KILL_OVERRIDES)
        identical = _list_bytes(s, D) == reference
        outcome = f"killed in {stage}; re-run: {last.split(':')[0]}" if reached else f"{stage} never started before the run ended"
    except Exception as err:  # a failed recovery is a finding
        identical, outcome = False, f"re-run failed: {' '.join(str(err).split())[:150]}"
    return {"stage": stage, "outcome": outcome, "intact": consistent, "identical": identical and reached,
            "seconds": time.perf_counter() - started, "lost": _lost_rows(s)}


# ---------------------------------------------------------------- base home and page

def base_home(work: Path) -> Path:
    """The tiny world with D-1 ingested, validated and published (made once per work folder)."""
    from simulator.simulate import simulate

    home = work / "base"
    if (home / "exports" / "leads" / f"as_of={YESTERDAY.isoformat()}").exists():
        return home
    if not (home / "truth").exists():
        shutil.rmtree(home, ignore_errors=True)
        simulate(load_settings(home), scale="tiny", start=START, end=D, seed=SEED, defect_rate=0.0)
    run_day(home, YESTERDAY, OVERRIDES)
    return home


def write_page(cases: list[dict], kills: list[dict], minutes: float, command: str) -> None:
    """benchmarks/results/reliability.md."""
    clean = sum(c["clean"] for c in cases)
    recovered = sum(k["identical"] and k["intact"] for k in kills)
    lines = [
        "# Reliability: bad inputs and kill points on the tiny world",
        "",
        f"Command: `{command}` ({minutes:.1f} min). Machine: {machine.describe()}. Date: {machine.now()}.",
        "",
        f"World: tiny, seed {SEED}, {START} .. {D}; D-1 = {YESTERDAY} published by a daily run beforehand (a small "
        f"model and tiny-world label windows: `--set {' --set '.join(OVERRIDES[:5])} ...`). Each bad input is injected into D's partition of a copy of that home; "
        "ingest and validate then run as of D. *lost* = rows of D's loaded files found neither in the raw table "
        "(typed, or as a rejected line's lineage row) nor elsewhere; rows of a rejected file stay in landing, named, "
        "and hold the day. *lists intact* = the published lists of D-1 and the landing files are byte for byte as before.",
        "",
        f"## Bad inputs: {clean} of {len(cases)} classes clean, {sum(c['lost'] for c in cases)} rows lost",
        "",
        "| class | outcome | lost | lists intact | clean |",
        "|---|---|---|---|---|",
    ]
    for c in cases:
        outcome = c["outcome"].replace("|", "/")
        lines.append(f"| {c['class']} | {outcome} | {c['lost']} | {'yes' if c['intact'] else 'NO'} | {'yes' if c['clean'] else 'NO'} |")
    lines += [
        "",
        f"## Kill points: {recovered} of {len(kills)} recovered byte-identically",
        "",
        f"D's run (training due: `retrain_every_days` 1) in a child process, SIGKILLed 0.5 s after the stage shows "
        "`running` in the run's snapshot; then D runs again to the end. *lists intact* = after the kill, D-1's lists "
        "are unchanged and D's are absent or complete (every file matches its manifest checksum). *identical* = the "
        "re-run's CSVs and Parquet equal those of an uninterrupted run of D from the same home, byte for byte.",
        "",
        "| stage killed | outcome | lists intact | identical | lost | re-run |",
        "|---|---|---|---|---|---|",
    ]
    for k in kills:
        lines.append(f"| {k['stage']} | {k['outcome']} | {'yes' if k['intact'] else 'NO'} | "
                     f"{'yes' if k['identical'] else 'NO'} | {k['lost']} | {k['seconds']:.0f} s |")
    for stage in [st for st in KILL_STAGES if st not in {k["stage"] for k in kills}]:
        lines.append(f"| {stage} | not run: the time budget (--budget-min) was spent | | | | |")
    PAGE.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _kill_row(line: str) -> dict | None:
    """A measured kill-point row of an existing page, or None (header, separator, not run)."""
    cells = [c.strip() for c in line.strip("|").split("|")]
    if len(cells) != 6 or cells[0] not in KILL_STAGES or not cells[2]:
        return None
    return {"stage": cells[0], "outcome": cells[1], "intact": cells[2] == "yes", "identical": cells[3] == "yes",
            "lost": int(cells[4]), "seconds": float(cells[5].rstrip(" s"))}


def write_kill_section(kills: list[dict], minutes: float, command: str) -> None:
    """Replace the kill-point section of an existing page with the results of a kills-only invocation."""
    text = PAGE.read_text(encoding="utf-8")
    head = text[:text.index("## Kill points")]
    # Kill points measured by an earlier invocation stay, unless measured again now.
    earlier = [_kill_row(line) for line in text[text.index("## Kill points"):].splitlines() if line.startswith("| ")]
    measured = {k["stage"] for k in kills}
    kills = [*(k for k in earlier if k and k["stage"] not in measured), *kills]
    kills.sort(key=lambda k: KILL_STAGES.index(k["stage"]))
    write_page([], kills, minutes, command)
    kill_part = PAGE.read_text(encoding="utf-8")
    section = kill_part[kill_part.index("## Kill points"):]
    note = f"Kill points measured by `{command}` ({minutes:.1f} min), {machine.now()}; load average {os.getloadavg()[0]:.1f}.\n\n"
    PAGE.write_text(head + section.replace("\n\n", "\n\n" + note, 1), encoding="utf-8")


def main() -> None:
    """Run the catalogue and the kill points; write the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench-reliability")
    parser.add_argument("--only", default="", help="comma-separated class names (or 'kills'); the page is not written")
    parser.add_argument("--budget-min", type=float, default=45.0, help="no kill point starts after this many minutes")
    parser.add_argument("--stages", default=",".join(KILL_STAGES), help="kill points to run, in order")
    parser.add_argument("--resume", action="store_true", help="reuse the bad-input results and the reference run of an earlier invocation in --work")
    args = parser.parse_args()
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    base = base_home(args.work)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    recorded = args.work / "bad_inputs.json"
    cases = json.loads(recorded.read_text(encoding="utf-8")) if args.resume and recorded.exists() and not only else []
    for case in CATALOGUE if not cases else ():
        if only and case.name not in only:
            continue
        cases.append(bad_input(base, args.work, case))
        print(f"{'clean' if cases[-1]['clean'] else 'NOT CLEAN':<9} {case.name}: {cases[-1]['outcome'][:160]}", flush=True)
    if not only:
        recorded.write_text(json.dumps(cases), encoding="utf-8")
    kills: list[dict] = []
    command = " ".join(["python -m benchmarks.reliability", *sys.argv[1:]])

    def page() -> None:
        if not only:
            write_page(cases, kills, (time.perf_counter() - started) / 60, command)
        elif only == {"kills"} and PAGE.exists():
            write_kill_section(kills, (time.perf_counter() - started) / 60, command)

    page()
    if not only or "kills" in only:
        reference_home = args.work / "reference"
        if not (args.resume and (reference_home / "exports" / "leads" / f"as_of={D.isoformat()}").exists()):
            shutil.rmtree(reference_home, ignore_errors=True)
            shutil.copytree(base, reference_home, symlinks=True, ignore=shutil.ignore_patterns("prefect"))
            run_day(reference_home, D, KILL_OVERRIDES)
        reference = _list_bytes(load_settings(reference_home), D)
        for stage in [st.strip() for st in args.stages.split(",") if st.strip() in KILL_STAGES]:
            if (time.perf_counter() - started) / 60 > args.budget_min:
                break
            kills.append(kill_point(base, args.work, stage, reference))
            print(f"kill {stage}: {kills[-1]}", flush=True)
            page()


if __name__ == "__main__":
    main()
