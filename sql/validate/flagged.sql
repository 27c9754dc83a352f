-- Rows flagged by the current phase of a validation run, before they are quarantined.
CREATE OR REPLACE TEMP TABLE _flagged (table_name VARCHAR, _file VARCHAR, _row BIGINT, rule VARCHAR)
