-- The raw-table contract: the typed columns of every landing table, as delivered.
-- The simulator writes exactly these columns; ingest casts landing files to these types.
-- The last three columns are lineage added by ingest, not delivered: the partition date, the file
-- (relative to landing/) and the 1-based data row within that file.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.stations (
    station_id   BIGINT,
    city         VARCHAR,
    region       VARCHAR,      -- = sales territory
    lat          DOUBLE,
    lon          DOUBLE,
    kind         VARCHAR,      -- hub | depot
    opened_at    DATE,
    updated_at   TIMESTAMP,
    _dt DATE, _file VARCHAR, _row BIGINT
);

CREATE TABLE IF NOT EXISTS raw.companies (
    company_id          BIGINT,
    industry            VARCHAR,
    size_band           VARCHAR,   -- micro | small | medium | large
    registered_capital  DOUBLE,
    city                VARCHAR,
    updated_at          TIMESTAMP,
    _dt DATE, _file VARCHAR, _row BIGINT
);

CREATE TABLE IF NOT EXISTS raw.customers (
    customer_id    BIGINT,
    name           VARCHAR,
    customer_type  VARCHAR,        -- individual | business
    industry       VARCHAR,
    station_id     BIGINT,
    company_id     BIGINT,         -- nullable
    created_at     TIMESTAMP,
    updated_at     TIMESTAMP,
    _dt DATE, _file VARCHAR, _row BIGINT
);

CREATE TABLE IF NOT EXISTS raw.accounts (
    account_id      BIGINT,
    account_type    VARCHAR,       -- personal | corporate | monthly
    payment_method  VARCHAR,       -- cash | card | transfer | credit
    created_at      TIMESTAMP,
    updated_at      TIMESTAMP,
    _dt DATE, _file VARCHAR, _row BIGINT
);

CREATE TABLE IF NOT EXISTS raw.customer_accounts (
    customer_id  BIGINT,
    account_id   BIGINT,
    linked_at    TIMESTAMP,
    _dt DATE, _file VARCHAR, _row BIGINT
);

CREATE TABLE IF NOT EXISTS raw.shipments (
    shipment_id           BIGINT,
    sender_customer_id    BIGINT,
    receiver_customer_id  BIGINT,
    origin_station_id     BIGINT,
    shipped_at            TIMESTAMP,
    weight_kg             DOUBLE,
    fee                   DOUBLE,
    service_level         VARCHAR,   -- standard | express | freight
    _dt DATE, _file VARCHAR, _row BIGINT
);

CREATE TABLE IF NOT EXISTS raw.sales_events (
    event_id     BIGINT,
    customer_id  BIGINT,
    event_at     TIMESTAMP,
    outcome      VARCHAR,   -- contacted | high_interest | contract_signed
    channel      VARCHAR,    -- phone | visit | email | web
    _dt DATE, _file VARCHAR, _row BIGINT
);

-- Optional: the service catalogue (one offer = a category to a destination region) and the
-- multi-behaviour funnel of customers towards offers. A catalogue row never changes category.
CREATE TABLE IF NOT EXISTS raw.services (
    service_id          BIGINT,
    name                VARCHAR,
    category            VARCHAR,
    destination_region  VARCHAR,
    launched_at         DATE,
    updated_at          TIMESTAMP,
    _dt DATE, _file VARCHAR, _row BIGINT
);

CREATE TABLE IF NOT EXISTS raw.service_events (
    event_id     BIGINT,
    customer_id  BIGINT,
    service_id   BIGINT,
    behaviour    VARCHAR,   -- enquiry | quote | trial | adopted
    event_at     TIMESTAMP,
    _dt DATE, _file VARCHAR, _row BIGINT
);
