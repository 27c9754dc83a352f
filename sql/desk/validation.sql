-- Validation per business day for the desk's runs page: the run verdict and the rules that failed.
SELECT
    as_of,
    bool_and(success) AS success,
    count(*) FILTER (WHERE NOT success) AS failed_rules,
    string_agg(DISTINCT CASE WHEN NOT success THEN table_name || ': ' || rule END, '; ') AS failures,
    max(checked_at) AS checked_at
FROM meta.validation_results
GROUP BY as_of
ORDER BY as_of DESC
