"""Lead lists name customers, stations and companies by the ids their sources use: text ids come back from meta.id_map."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

# Id columns of the lead list and the entity whose surrogate-key map each goes through.
LIST_ID_COLUMNS: dict[str, str] = {"customer_id": "customer", "station_id": "station", "company_id": "company"}


def restore(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, schema: pa.Schema) -> tuple[pd.DataFrame, pa.Schema]:
    """Replace surrogate keys by the source's text ids for every entity that has a map; those columns become text."""
    for column, domain in LIST_ID_COLUMNS.items():
        originals = dict(con.execute("SELECT id, original FROM meta.id_map WHERE domain = ?", [domain]).fetchall())
        if not originals:
            continue
        frame[column] = pd.array([originals.get(int(v)) if pd.notna(v) else None for v in frame[column]], dtype="string")
        schema = schema.set(schema.get_field_index(column), pa.field(column, pa.string()))
    return frame, schema
