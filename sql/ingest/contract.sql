-- The raw-table contract as the warehouse holds it: delivered columns and types, lineage excluded.
SELECT table_name, column_name, data_type
FROM information_schema.columns
WHERE table_schema = 'raw' AND column_name NOT IN ('_dt', '_file', '_row')
ORDER BY table_name, ordinal_position
