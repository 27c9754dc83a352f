"""The desk's FastAPI app: territory lists, lead pages, the model page and the runs page, all rendered on the server."""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk import drawing
from desk.access import TOKEN_COOKIE, Viewer, viewer_for
from desk.data import DeskData, NotPublished, Stamp
from desk.listing import OFFER_COLUMNS, SORTABLE, change, filter_and_sort, offer_columns, render_rows, with_changes
from desk.reasons import reason_rows
from desk.records import model_rows, runs_rows
from leadgraph.config import Settings

TEMPLATES = Path(__file__).resolve().with_name("templates")


class Denied(Exception):
    """The request has no valid token, or its token does not cover the territory asked for."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def make_templates() -> Jinja2Templates:
    """The pages' templates (autoescaped) with the desk's filters: URL quoting, numbers, dates."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters["q"] = lambda value: quote(str(value), safe="")
    templates.env.filters["num"] = lambda value, digits=2: "" if value is None or (
        isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"
    templates.env.filters["ident"] = lambda value: "" if value is None or pd.isna(value) else str(int(value))
    templates.env.filters["day"] = lambda value: "" if value is None or pd.isna(value) else str(value)[:10]
    return templates


def create_app(settings: Settings) -> FastAPI:
    """The desk over one home folder; it reads published files and the desk snapshot only."""
    app = FastAPI(title="leadgraph desk", docs_url=None, redoc_url=None, openapi_url=None)
    templates = make_templates()
    data = DeskData(settings)
    cfg = settings.desk

    @lru_cache(maxsize=32)
    def listed(day: date, territory: str, stamp: Stamp) -> pd.DataFrame:
        """A territory's list with its changes and rendered rows, kept while the published file stays the same."""
        frame = with_changes(data.territory_list(day, territory))
        frame["row_html"] = render_rows(templates.env, frame, day)
        return frame

    def viewer(request: Request) -> Viewer:
        token = request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        found = viewer_for(cfg, token)
        if found is None:
            raise Denied(401, "this desk needs a token: open it with ?token=... (ask the data team for yours)")
        return found

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        response = templates.TemplateResponse(request, name, {"title": "leadgraph desk", **context}, status_code=status)
        token = request.query_params.get("token")
        if token and viewer_for(cfg, token) is not None and cfg.tokens:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied) -> HTMLResponse:
        return templates.TemplateResponse(request, "message.html", {"title": "not allowed", "message": str(exc)},
                                          status_code=exc.status)

    @app.exception_handler(NotPublished)
    async def _missing(request: Request, exc: NotPublished) -> HTMLResponse:
        return templates.TemplateResponse(request, "message.html", {"title": "not found", "message": str(exc)},
                                          status_code=404)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, as_of: str | None = None) -> Response:
        who = viewer(request)
        days = data.published_days()
        if not days:
            return page(request, "message.html", title="no lists yet",
                        message="No lead list has been published yet: run `leadgraph run --as-of YYYY-MM-DD` first.")
        day = data.day_or_latest(as_of)
        territories = [t for t in data.territories(day) if who.may_see(t["territory"])]
        if len(territories) == 1:
            return RedirectResponse(f"/territory/{quote(territories[0]['territory'], safe='')}?as_of={day}", 303)
        return page(request, "index.html", day=day, days=days, territories=territories,
                    manifest=data.manifest(day))

    @app.get("/territory/{territory}", response_class=HTMLResponse)
    def territory_page(request: Request, territory: str, as_of: str | None = None, band: str = "", industry: str = "",
                       q: str = "", sort: str = "rank_in_territory", order: str = "asc") -> Response:
        who = viewer(request)
        if not who.may_see(territory):
            raise Denied(403, f"your token does not cover territory {territory!r}")
        day = data.day_or_latest(as_of)
        whole = listed(day, territory, data.list_stamp(day))
        rows = filter_and_sort(whole, band, industry, q, sort, order)
        industries = sorted(i for i in whole["industry"].dropna().unique())
        offers = offer_columns(whole)
        return page(request, "territory.html", day=day, days=data.published_days(), territory=territory,
                    rows=list(rows["row_html"]), total=len(whole), industries=industries, band=band,
                    industry=industry, q=q, sort=sort if sort in SORTABLE else "rank_in_territory", order=order,
                    offers=offers, territories=[t["territory"] for t in data.territories(day)
                                                if who.may_see(t["territory"])])

    @app.get("/territory/{territory}/csv")
    def territory_csv(request: Request, territory: str, as_of: str | None = None) -> Response:
        who = viewer(request)
        if not who.may_see(territory):
            raise Denied(403, f"your token does not cover territory {territory!r}")
        day = data.day_or_latest(as_of)
        name, body = data.csv_bytes(day, territory)
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{day.isoformat()}_{name}"'})

    @app.get("/lead/{customer_id}", response_class=HTMLResponse)
    def lead_page(request: Request, customer_id: int, as_of: str | None = None) -> Response:
        who = viewer(request)
        day = data.day_or_latest(as_of)
        lead = data.lead(day, customer_id)
        if not who.may_see(lead["territory"]):
            raise Denied(403, f"your token does not cover territory {lead['territory']!r}")
        profile, links = data.details(day, customer_id)
        history = data.history(customer_id, day, cfg.history_lists)
        graph = drawing.neighbourhood(lead, links, profile)
        return page(request, "lead.html", day=day, lead=lead, profile=profile, reasons=reason_rows(lead, profile),
                    graph=graph, kinds=drawing.KIND_LABELS,
                    rank_line=drawing.line(history, "rank", invert=True),
                    score_line=drawing.line(history, "score", invert=False, fixed=(0.0, 100.0)),
                    history=history, change=change(lead["previous_rank"], lead["rank_in_territory"])[1],
                    offers=[(lead[c], lead.get(f"offer_score_{c[-1]}")) for c in OFFER_COLUMNS
                            if c in lead and lead[c] is not None and not pd.isna(lead[c])])

    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request) -> Response:
        viewer(request)
        return page(request, "models.html", models=model_rows(data.meta().get("models", [])))

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request) -> Response:
        viewer(request)
        meta = data.meta()
        return page(request, "runs.html", runs=runs_rows(meta), validation=meta.get("validation", []),
                    drift=meta.get("drift", []))

    @app.get("/files/{kind}/{path:path}")
    def report_file(request: Request, kind: str, path: str) -> Response:
        viewer(request)
        roots = {"artifacts": settings.paths.artifacts, "reports": settings.paths.reports}
        root = roots.get(kind)
        if root is None:
            raise NotPublished(f"no such file: {kind}/{path}")
        target = (root / path).resolve()
        # Only report files under the artifacts folder are served, nothing beside it.
        if not target.is_relative_to(root.resolve()) or not target.is_file() or target.suffix not in (
                ".html", ".png", ".svg", ".css", ".js", ".json", ".md", ".woff", ".woff2", ".ico"):
            raise NotPublished(f"no such file: {kind}/{path}")
        return FileResponse(target)

    return app
