-- Lines the CSV reader rejected, one per data row (the reader numbers records with the header as 1).
CREATE OR REPLACE TEMP TABLE _bad AS
SELECT s.file_path AS _path, e.line - 1 AS _row,
       string_agg(DISTINCT CAST(e.error_type AS VARCHAR), ', ') AS error,
       first(e.csv_line) AS line
FROM _rejects e JOIN _reject_scans s USING (scan_id, file_id)
GROUP BY ALL
