-- Parquet rows whose values did not cast to the contract type, kept as delivered.
INSERT INTO meta.ingest_rejects
SELECT '{table}', f.dt, f.rel, p.file_row_number + 1,
       'cast failed: ' || concat_ws(', ', {failed_list}),
       to_json(struct_pack({text_columns}))
FROM read_parquet(?, filename = true, file_row_number = true) p
JOIN _files f ON f.path = p.filename
WHERE {any_failed}
