-- Each customer's next adoption after the split date: its first `adopted` event in (split, split + days]
-- of an offer it had not adopted by the end of the split date (ties broken by service_id).
SELECT customer_id, service_id FROM (
    SELECT e.customer_id, e.service_id,
           row_number() OVER (PARTITION BY e.customer_id ORDER BY e.event_at, e.service_id) AS rn
    FROM asof_service_events($until) e
    WHERE e.behaviour = 'adopted'
      AND e.event_at >= $split + INTERVAL 1 DAY
      AND e.event_at < $split + to_days(CAST($days AS INTEGER) + 1)
      AND NOT EXISTS (
          SELECT 1 FROM asof_service_events($split) p
          WHERE p.behaviour = 'adopted' AND p.customer_id = e.customer_id AND p.service_id = e.service_id))
WHERE rn = 1
ORDER BY customer_id
