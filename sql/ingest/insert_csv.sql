-- Typed rows from the numbered text, plus a lineage-only row for every malformed line.
INSERT INTO raw.{table} BY NAME
SELECT {typed}, _dt, _file, _row FROM _num;

INSERT INTO raw.{table} BY NAME
SELECT f.dt AS _dt, f.rel AS _file, b._row FROM _bad b JOIN _files f ON f.path = b._path;

INSERT INTO meta.ingest_rejects
SELECT '{table}', f.dt, f.rel, b._row, 'malformed line (' || b.error || ')', json_object('line', b.line)
FROM _bad b JOIN _files f ON f.path = b._path;
