-- The keys of one referenced table delivered up to d. A reference is an orphan only when its key was
-- never delivered: a referenced row quarantined for another reason does not break the rows pointing
-- at it. A malformed line still names its key in its first field (the contract puts keys first).
CREATE OR REPLACE TEMP TABLE _keys_{ref_table} AS
SELECT {ref_key} AS id FROM raw.{ref_table} WHERE _dt <= $d AND {ref_key} IS NOT NULL
UNION
SELECT TRY_CAST(split_part(json_extract_string(raw_values, '$.line'), ',', 1) AS BIGINT)
FROM meta.ingest_rejects
WHERE table_name = '{ref_table}' AND _dt <= $d AND starts_with(error, 'malformed line')
