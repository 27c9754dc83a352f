-- Typed rows straight from a group of Parquet files with the same schema; the reader numbers rows.
INSERT INTO raw.{table} BY NAME
SELECT {typed}, f.dt AS _dt, f.rel AS _file, p.file_row_number + 1 AS _row
FROM read_parquet(?, filename = true, file_row_number = true) p
JOIN _files f ON f.path = p.filename
