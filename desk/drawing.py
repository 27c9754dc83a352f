"""Geometry of the lead page's drawings (neighbourhood graph, rank and score lines); templates turn it into SVG."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

# Each neighbour kind gets its own sector of the circle around the lead, so the groups stay apart.
KIND_LABELS = {"company": "company sibling", "account": "account co-holder", "partner": "shipping partner",
               "station": "station"}
_SECTORS = {"company": (200.0, 340.0), "account": (20.0, 110.0), "partner": (120.0, 190.0), "station": (350.0, 350.0)}


@dataclass(frozen=True)
class Node:
    """One drawn node: where, what it is, and its label."""

    x: float
    y: float
    kind: str  # lead | company | account | partner | station
    label: str
    contract: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Graph:
    """The lead in the middle, its neighbours around it, one edge from the lead to each."""

    width: int
    height: int
    centre: Node
    nodes: list[Node]


def neighbourhood(lead: dict[str, Any], links: pd.DataFrame, profile: dict[str, Any] | None,
                  width: int = 560, height: int = 380) -> Graph:
    """Place the lead at the centre and its company siblings, co-holders, partners and station on a ring."""
    cx, cy, radius = width / 2, height / 2, min(width, height) / 2 - 50
    centre = Node(cx, cy, "lead", str(lead.get("customer_name") or lead["customer_id"]))
    nodes: list[Node] = []
    for kind, (start, end) in _SECTORS.items():
        if kind == "station":
            if profile is None or pd.isna(profile.get("station_id")):
                continue
            city = profile.get("station_city") or ""
            rows = [{"label": f"station {int(profile['station_id'])} {city}".strip(), "contract": False, "ref": "",
                     "detail": f"{profile.get('station_contracts', 0):.0f} contract customers"
                     if pd.notna(profile.get("station_contracts")) else ""}]
        else:
            part = links[links["kind"] == kind] if not links.empty else links
            rows = [{"label": str(r.neighbour_name if pd.notna(r.neighbour_name) else r.neighbour_id),
                     "contract": bool(r.contract), "ref": f"customer {int(r.neighbour_id)}",
                     "detail": _weight_text(kind, int(r.weight))} for r in part.itertuples()]
        for i, row in enumerate(rows):
            angle = math.radians(start + (end - start) * ((i + 0.5) / len(rows) if len(rows) > 1 else 0.5))
            nodes.append(Node(cx + radius * math.cos(angle), cy + radius * math.sin(angle), kind, row["label"],
                              row["contract"],
                              f"{KIND_LABELS[kind]}: " + " ".join(p for p in (row["ref"], row["detail"]) if p)))
    return Graph(width, height, centre, nodes)


def _weight_text(kind: str, weight: int) -> str:
    if kind == "partner":
        return f"{weight} shipments"
    if kind == "account":
        return f"{weight} shared account(s)"
    return ""


@dataclass(frozen=True)
class Line:
    """A polyline over the published days with its axis labels."""

    width: int
    height: int
    points: str  # "x,y x,y ..." for SVG
    dots: list[tuple[float, float, str]]  # x, y, tooltip
    y_top: str
    y_bottom: str
    x_first: str
    x_last: str


def line(history: list[dict[str, Any]], key: str, *, invert: bool, width: int = 560, height: int = 120,
         fixed: tuple[float, float] | None = None) -> Line | None:
    """A line of `key` over the days it was listed; rank is drawn inverted (1 at the top). None when never listed."""
    values = [(i, p[key]) for i, p in enumerate(history) if p[key] is not None and not pd.isna(p[key])]
    if not values:
        return None
    low, high = fixed or (min(v for _, v in values), max(v for _, v in values))
    if high == low:
        low, high = low - 1, high + 1
    pad_x, pad_y = 40, 12
    step = (width - 2 * pad_x) / max(len(history) - 1, 1)

    def y_of(v: float) -> float:
        share = (v - low) / (high - low)
        return pad_y + (share if invert else 1 - share) * (height - 2 * pad_y)

    dots = [(pad_x + i * step, y_of(v), f"{history[i]['as_of'].isoformat()}: {key} {v:g}") for i, v in values]
    top, bottom = (low, high) if invert else (high, low)
    return Line(width, height, " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in dots), dots, f"{top:g}", f"{bottom:g}",
                history[0]["as_of"].isoformat(), history[-1]["as_of"].isoformat())
