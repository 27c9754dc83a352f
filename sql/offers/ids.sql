-- The as-of customer and catalogue orders that index the offer models' rows and items.
SELECT 'customer' AS kind, customer_id AS id, NULL AS name FROM asof_customers($d)
UNION ALL
SELECT 'service', service_id, name FROM asof_services($d)
ORDER BY 1, 2
