-- Every category value in the data as of $as_of with its row count, per vocabulary of the graph features
-- (tasks/vocabulary.py learns the values that the configured vocabularies lack from this).
SELECT 'industries' AS vocabulary, industry AS value, count(*) AS n FROM asof_customers($as_of) WHERE industry IS NOT NULL GROUP BY ALL
UNION ALL SELECT 'industries', industry, count(*) FROM asof_companies($as_of) WHERE industry IS NOT NULL GROUP BY ALL
UNION ALL SELECT 'size_bands', size_band, count(*) FROM asof_companies($as_of) WHERE size_band IS NOT NULL GROUP BY ALL
UNION ALL SELECT 'account_types', account_type, count(*) FROM asof_accounts($as_of) WHERE account_type IS NOT NULL GROUP BY ALL
UNION ALL SELECT 'payment_methods', payment_method, count(*) FROM asof_accounts($as_of) WHERE payment_method IS NOT NULL GROUP BY ALL
UNION ALL SELECT 'station_kinds', kind, count(*) FROM asof_stations($as_of) WHERE kind IS NOT NULL GROUP BY ALL
UNION ALL SELECT 'service_levels', service_level, count(*) FROM asof_shipments($as_of) WHERE service_level IS NOT NULL GROUP BY ALL
UNION ALL SELECT 'channels', channel, count(*) FROM asof_sales_events($as_of) WHERE channel IS NOT NULL GROUP BY ALL
