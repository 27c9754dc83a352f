-- As-of access to the raw tables, as table macros taking the business date d.
-- "As of d" = rows delivered in partitions up to d, with their event or change time before the end of d,
-- minus quarantined rows; for dimension tables, the latest version of each key.
-- Both conditions matter: the partition date keeps re-runs of d reproducible after later deliveries,
-- the event time keeps future-dated rows out.

-- An ANTI JOIN, not a correlated NOT EXISTS: same rows, but about 25x faster on tens of millions of shipments.
CREATE OR REPLACE MACRO _kept(tbl, d) AS TABLE
    SELECT r.* FROM query_table(tbl) r
    ANTI JOIN (SELECT _file, _row FROM meta.quarantine WHERE table_name = split_part(tbl, '.', 2)) q
        ON q._file = r._file AND q._row = r._row
    WHERE r._dt <= d;

CREATE OR REPLACE MACRO asof_stations(d) AS TABLE
    SELECT * EXCLUDE (_rn) FROM (
        SELECT *, row_number() OVER (PARTITION BY station_id ORDER BY updated_at DESC, _dt DESC, _row DESC) AS _rn
        FROM _kept('raw.stations', d) WHERE updated_at < d + INTERVAL 1 DAY)
    WHERE _rn = 1;

CREATE OR REPLACE MACRO asof_companies(d) AS TABLE
    SELECT * EXCLUDE (_rn) FROM (
        SELECT *, row_number() OVER (PARTITION BY company_id ORDER BY updated_at DESC, _dt DESC, _row DESC) AS _rn
        FROM _kept('raw.companies', d) WHERE updated_at < d + INTERVAL 1 DAY)
    WHERE _rn = 1;

CREATE OR REPLACE MACRO asof_customers(d) AS TABLE
    SELECT * EXCLUDE (_rn) FROM (
        SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC, _dt DESC, _row DESC) AS _rn
        FROM _kept('raw.customers', d) WHERE updated_at < d + INTERVAL 1 DAY AND created_at < d + INTERVAL 1 DAY)
    WHERE _rn = 1;

CREATE OR REPLACE MACRO asof_accounts(d) AS TABLE
    SELECT * EXCLUDE (_rn) FROM (
        SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY updated_at DESC, _dt DESC, _row DESC) AS _rn
        FROM _kept('raw.accounts', d) WHERE updated_at < d + INTERVAL 1 DAY AND created_at < d + INTERVAL 1 DAY)
    WHERE _rn = 1;

CREATE OR REPLACE MACRO asof_customer_accounts(d) AS TABLE
    SELECT customer_id, account_id, min(linked_at) AS linked_at
    FROM _kept('raw.customer_accounts', d) WHERE linked_at < d + INTERVAL 1 DAY
    GROUP BY customer_id, account_id;

CREATE OR REPLACE MACRO asof_shipments(d) AS TABLE
    SELECT * FROM _kept('raw.shipments', d) WHERE shipped_at < d + INTERVAL 1 DAY;

CREATE OR REPLACE MACRO asof_sales_events(d) AS TABLE
    SELECT * FROM _kept('raw.sales_events', d) WHERE event_at < d + INTERVAL 1 DAY;

CREATE OR REPLACE MACRO asof_services(d) AS TABLE
    SELECT * EXCLUDE (_rn) FROM (
        SELECT *, row_number() OVER (PARTITION BY service_id ORDER BY updated_at DESC, _dt DESC, _row DESC) AS _rn
        FROM _kept('raw.services', d) WHERE updated_at < d + INTERVAL 1 DAY)
    WHERE _rn = 1;

CREATE OR REPLACE MACRO asof_service_events(d) AS TABLE
    SELECT * FROM _kept('raw.service_events', d) WHERE event_at < d + INTERVAL 1 DAY;
