"""What the desk's pages read: the published lists, their manifests and the desk snapshot; never the warehouse.

A publish repoints a day's link at a new version folder and deletes the old one, so a file may vanish
under a read: every read opens its file once (one version, whatever happens next) and retries a missing
file briefly instead of failing the page.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadgraph.config import Settings
from tasks.desk_snapshot import LEADS_NAME, META_NAME, NEIGHBOURS_NAME, day_folder
from tasks.publish import MANIFEST_NAME, PARQUET_NAME, export_folder

T = TypeVar("T")
_RETRIES = 5
_RETRY_PAUSE_S = 0.05


class NotPublished(LookupError):
    """The asked-for day, territory or lead is not in the published lists."""


def _retrying(read: Callable[[], T]) -> T:
    """Run `read`, retrying a missing file a few times: a publish may be between its two renames."""
    for attempt in range(_RETRIES):
        try:
            return read()
        except FileNotFoundError:
            if attempt == _RETRIES - 1:
                raise
            time.sleep(_RETRY_PAUSE_S * (attempt + 1))
    raise AssertionError("unreachable")


def _has_manifest(folder: Path) -> bool:
    """Whether a day's folder holds its manifest; a republish may be removing the version its link pointed at as
    the path is followed, so a missing one is looked for again through the new link."""
    try:
        _retrying((folder / MANIFEST_NAME).stat)
    except FileNotFoundError:
        return False
    return True


Stamp = tuple[int, int, int]


def _stamp(path: Path) -> Stamp:
    """Identity of a file's current version (inode, mtime, size): a publish that replaces it changes them."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


class _VersionCache:
    """Parsed files, kept while the version opened stays the one on disk.

    Each read opens the file once and parses from that handle: pyarrow opening a path twice (footer, then
    pages) could read two versions when a publish repoints the day's link in between.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int, int, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, path: Path, parse: Callable[[BinaryIO], T]) -> T:
        """`parse` of the file's current version, from the cache when that version was parsed before."""
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            value = parse(handle)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_LISTS = _VersionCache(64)
_JSON = _VersionCache(64)
_FRAMES = _VersionCache(16)


def _parquet(handle: BinaryIO) -> pd.DataFrame:
    """A Parquet file's whole table as a frame."""
    return pq.read_table(handle).to_pandas()


def _json(handle: BinaryIO) -> dict[str, Any]:
    """A UTF-8 JSON document."""
    return json.loads(handle.read().decode("utf-8"))


def _read_rows(path: Path, customer_id: int) -> pa.Table:
    """One customer's rank and score from a published list, read through one open handle."""
    with path.open("rb") as handle:
        return pq.read_table(handle, columns=["customer_id", "rank_in_territory", "score"],
                             filters=pc.field("customer_id") == customer_id)


class DeskData:
    """Read access to one home folder's published lists and desk snapshot."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def published_days(self) -> list[date]:
        """Days with a published list (a folder with a manifest), newest first."""
        days = []
        exports = self.settings.paths.exports
        if exports.is_dir():
            for folder in exports.glob("as_of=*"):
                try:
                    day = date.fromisoformat(folder.name.removeprefix("as_of="))
                except ValueError:
                    continue
                if _has_manifest(folder):
                    days.append(day)
        return sorted(days, reverse=True)

    def day_or_latest(self, as_of: str | None) -> date:
        """The asked-for published day, or the latest one."""
        days = self.published_days()
        if not days:
            raise NotPublished("no lead list has been published yet: run `leadgraph run --as-of YYYY-MM-DD` first")
        if not as_of:
            return days[0]
        try:
            day = date.fromisoformat(as_of)
        except ValueError as err:
            raise NotPublished(f"not a date: {as_of!r} (expected YYYY-MM-DD)") from err
        if day not in days:
            raise NotPublished(f"no lead list was published for {day.isoformat()}")
        return day

    def manifest(self, day: date) -> dict[str, Any]:
        """The day's manifest.json."""
        path = export_folder(self.settings, day) / MANIFEST_NAME
        return _retrying(lambda: _JSON.read(path, _json))

    def territories(self, day: date) -> list[dict[str, Any]]:
        """The day's territories with their row counts and CSV file names."""
        return list(self.manifest(day)["territories"])

    def whole_list(self, day: date) -> pd.DataFrame:
        """Every territory's leads of the day, in global rank order."""
        path = export_folder(self.settings, day) / PARQUET_NAME
        return _retrying(lambda: _LISTS.read(path, _parquet))

    def list_stamp(self, day: date) -> Stamp:
        """The version of the day's published Parquet (changes when the day is re-published)."""
        path = export_folder(self.settings, day) / PARQUET_NAME
        return _retrying(lambda: _stamp(path))

    def territory_list(self, day: date, territory: str) -> pd.DataFrame:
        """One territory's leads of the day, in rank order."""
        if territory not in {t["territory"] for t in self.territories(day)}:
            raise NotPublished(f"no list for territory {territory!r} on {day.isoformat()}")
        frame = self.whole_list(day)
        return frame[frame["territory"] == territory].sort_values("rank_in_territory").reset_index(drop=True)

    def csv_bytes(self, day: date, territory: str) -> tuple[str, bytes]:
        """(file name, exact bytes) of a territory's published CSV."""
        entry = next((t for t in self.territories(day) if t["territory"] == territory), None)
        if entry is None:
            raise NotPublished(f"no list for territory {territory!r} on {day.isoformat()}")
        path = export_folder(self.settings, day) / entry["file"]
        return entry["file"], _retrying(path.read_bytes)

    def lead(self, day: date, customer_id: int) -> dict[str, Any]:
        """One listed lead's row of the day."""
        frame = self.whole_list(day)
        rows = frame[frame["customer_id"] == customer_id]
        if rows.empty:
            raise NotPublished(f"customer {customer_id} is not on the lists of {day.isoformat()}")
        return rows.iloc[0].to_dict()

    def history(self, customer_id: int, upto: date, lists: int) -> list[dict[str, Any]]:
        """The lead's rank and score on each of the last `lists` published days up to `upto` (None when not listed)."""
        days = sorted(d for d in self.published_days() if d <= upto)[-lists:]
        points = []
        for day in days:
            path = export_folder(self.settings, day) / PARQUET_NAME
            table = _retrying(lambda path=path: _read_rows(path, customer_id))
            row = table.to_pylist()[0] if table.num_rows else {}
            points.append({"as_of": day, "rank": row.get("rank_in_territory"), "score": row.get("score")})
        return points

    def details(self, day: date, customer_id: int) -> tuple[dict[str, Any] | None, pd.DataFrame]:
        """(profile and reason facts, neighbours) of a lead from the desk snapshot; (None, empty) when not written."""
        folder = day_folder(self.settings, day)
        leads, neighbours = folder / LEADS_NAME, folder / NEIGHBOURS_NAME
        try:
            profile = _retrying(lambda: _FRAMES.read(leads, _parquet))
            links = _retrying(lambda: _FRAMES.read(neighbours, _parquet))
        except FileNotFoundError:
            return None, pd.DataFrame()
        rows = profile[profile["customer_id"] == customer_id]
        return (rows.iloc[0].to_dict() if not rows.empty else None,
                links[links["customer_id"] == customer_id].reset_index(drop=True))

    def meta(self) -> dict[str, Any]:
        """The desk snapshot of meta.* (empty sections before the first run wrote one)."""
        path = self.settings.paths.desk / META_NAME
        try:
            return _retrying(lambda: _JSON.read(path, _json))
        except FileNotFoundError:
            return {"runs": [], "published": [], "models": [], "validation": [], "drift": []}
