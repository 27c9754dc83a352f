-- Every (customer, offer, behaviour) seen as of d, with the customer's and the offer's index in the as-of
-- customer and catalogue orders (customer_id, service_id ascending).
WITH cu AS (SELECT customer_id, row_number() OVER (ORDER BY customer_id) - 1 AS u FROM asof_customers($d)),
     sv AS (SELECT service_id, row_number() OVER (ORDER BY service_id) - 1 AS i FROM asof_services($d))
SELECT DISTINCT cu.u, sv.i, e.behaviour
FROM asof_service_events($d) e
JOIN cu USING (customer_id)
JOIN sv USING (service_id)
ORDER BY 1, 2, 3
