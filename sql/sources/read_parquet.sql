-- A configured source's Parquet files with their own types, in file order.
CREATE OR REPLACE TEMP TABLE _read AS
SELECT *
FROM read_parquet(?, union_by_name = true, filename = true, hive_partitioning = false)
{limit}
