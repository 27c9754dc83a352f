-- The contract-typed values (NULL where a cast failed) beside the delivered ones, and the date that partitions each row.
CREATE OR REPLACE TEMP TABLE {name} AS
SELECT t.*, {dt} AS _dt_row
FROM (SELECT {typed}, p.* FROM {pre_table} p) t
