-- Quarantine the flagged rows of one table with their key and their values as delivered (the text
-- kept by ingest when the row did not parse or cast).
INSERT INTO meta.quarantine
SELECT '{table}', r._file, r._row, concat_ws('|', {key_cols}), f.rule,
       coalesce(j.raw_values, to_json(struct_pack({value_cols}))), $d, now()
FROM (SELECT DISTINCT _file, _row, rule FROM _flagged WHERE table_name = '{table}') f
JOIN raw.{table} r ON r._file = f._file AND r._row = f._row
LEFT JOIN meta.ingest_rejects j ON j.table_name = '{table}' AND j._file = r._file AND j._row = r._row
WHERE NOT EXISTS (
    SELECT 1 FROM meta.quarantine q
    WHERE q.table_name = '{table}' AND q._file = f._file AND q._row = f._row AND q.rule = f.rule)
