-- Drift per business day and champion for the desk's runs page: columns compared, how many drifted and which.
SELECT
    as_of,
    model_version,
    count(*) AS columns,
    count(*) FILTER (WHERE drifted) AS drifted,
    count(*) FILTER (WHERE drifted) / count(*) AS share_drifted,
    string_agg(CASE WHEN drifted THEN column_name END, ', ' ORDER BY column_name) AS drifted_columns,
    max(computed_at) AS computed_at
FROM meta.drift_metrics
GROUP BY as_of, model_version
ORDER BY as_of DESC, model_version
