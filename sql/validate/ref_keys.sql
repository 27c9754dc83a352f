-- The keys of one referenced table in the as-of state (quarantined rows already left out), once per run.
CREATE OR REPLACE TEMP TABLE _keys_{ref_table} AS
SELECT DISTINCT {ref_key} AS id FROM asof_{ref_table}($d)
