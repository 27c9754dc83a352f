"""Screenshots of the desk (territory list, lead page, model page), as the README shows them.

`python -m desk.screenshots --out docs/screenshots` photographs the desk of LEADGRAPH_HOME (after
`make run`) with the system's Chromium: the first territory of the latest list and its top lead.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import quote

SHOTS = ("territory-list.png", "lead-page.png", "model-page.png")


def take_screenshots(context: Any, base_url: str, out: Path, *, territory: str, customer_id: int) -> list[Path]:
    """Photograph the three pages into `out`; returns the files in SHOTS order."""
    out.mkdir(parents=True, exist_ok=True)
    urls = (f"{base_url}/territory/{quote(territory, safe='')}", f"{base_url}/lead/{customer_id}", f"{base_url}/models")
    page = context.new_page()
    paths = []
    try:
        for url, name in zip(urls, SHOTS):
            page.goto(url, wait_until="load")
            paths.append(out / name)
            page.screenshot(path=str(paths[-1]), full_page=False)
    finally:
        page.close()
    return paths


def main() -> None:
    """Screenshots of the desk over LEADGRAPH_HOME's latest published list."""
    from desk.browser import chromium
    from desk.data import DeskData
    from desk.server import served
    from leadgraph.config import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    settings = load_settings()
    data = DeskData(settings)
    day = data.day_or_latest(None)
    territory = data.territories(day)[0]["territory"]
    top = int(data.territory_list(day, territory)["customer_id"].iloc[0])
    with served(settings) as url, chromium(settings.desk) as context:
        for path in take_screenshots(context, url, args.out, territory=territory, customer_id=top):
            print(path)


if __name__ == "__main__":
    main()
