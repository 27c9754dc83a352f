-- A configured source's CSV files as text, in file order (each file's rows contiguous, so rowid numbers them).
-- The dialect is sniffed: a company's export is not held to the landing folder's fixed dialect.
CREATE OR REPLACE TEMP TABLE _read AS
SELECT *
FROM read_csv(?, all_varchar = true, header = true, union_by_name = true, filename = true, hive_partitioning = false)
{limit}
