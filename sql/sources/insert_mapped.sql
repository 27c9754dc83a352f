-- Mapped rows dated up to D into the raw table (a row whose date did not cast is dated D, so validation sees it),
-- and every row with a failed cast into meta.ingest_rejects, naming table, source and columns, with its delivered values.
INSERT INTO raw.{table} BY NAME
SELECT {columns}, coalesce(_dt_row, DATE '{d}') AS _dt, _file, _row
FROM {mapped}
WHERE coalesce(_dt_row, DATE '{d}') <= DATE '{d}';

INSERT INTO meta.ingest_rejects
SELECT '{table}', coalesce(_dt_row, DATE '{d}'), _file, _row,
       'cast failed: ' || concat_ws(', ', {failed_list}) || ' in ' || {source}, _raw
FROM {mapped}
WHERE coalesce(_dt_row, DATE '{d}') <= DATE '{d}' AND ({any_failed});
