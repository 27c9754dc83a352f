-- Cross-table time rule: a service event dated before its customer was created, by the earliest
-- created_at any delivered version of the customer up to d carries.
INSERT INTO _flagged
SELECT 'service_events', e._file, e._row, 'time:event_before_customer'
FROM raw.service_events e
JOIN (SELECT customer_id, min(created_at) AS created_at FROM raw.customers WHERE _dt <= $d GROUP BY customer_id) c
  ON c.customer_id = e.customer_id
WHERE e._file IN (SELECT rel FROM _scope WHERE table_name = 'service_events')
  AND e.event_at < c.created_at
  AND NOT EXISTS (
      SELECT 1 FROM meta.quarantine q
      WHERE q.table_name = 'service_events' AND q._file = e._file AND q._row = e._row)
