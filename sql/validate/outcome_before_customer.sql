-- Cross-table time rule: a sales outcome (anything but a first contact) dated before its customer was
-- created, by the earliest created_at any delivered version of the customer up to d carries.
INSERT INTO _flagged
SELECT 'sales_events', e._file, e._row, 'time:outcome_before_customer'
FROM raw.sales_events e
JOIN (SELECT customer_id, min(created_at) AS created_at FROM raw.customers WHERE _dt <= $d GROUP BY customer_id) c
  ON c.customer_id = e.customer_id
WHERE e._file IN (SELECT rel FROM _scope WHERE table_name = 'sales_events')
  AND e.outcome <> 'contacted'
  AND e.event_at < c.created_at
  AND NOT EXISTS (
      SELECT 1 FROM meta.quarantine q
      WHERE q.table_name = 'sales_events' AND q._file = e._file AND q._row = e._row)
