-- Rows whose text did not cast to the contract type, kept with the text as delivered.
INSERT INTO meta.ingest_rejects
SELECT '{table}', _dt, _file, _row,
       'cast failed: ' || concat_ws(', ', {failed_list}),
       to_json(struct_pack({text_columns}))
FROM _num
WHERE {any_failed}
