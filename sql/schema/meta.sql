-- Bookkeeping tables of the warehouse: what was loaded, checked, quarantined, trained and published.
CREATE SCHEMA IF NOT EXISTS meta;

CREATE TABLE IF NOT EXISTS meta.ingest_log (
    table_name   VARCHAR,
    partition_dt DATE,
    file         VARCHAR,     -- path relative to the landing folder
    size_bytes   BIGINT,
    mtime_ns     BIGINT,      -- lets a daily run skip re-hashing history that has not been touched
    sha256       VARCHAR,
    rows         BIGINT,
    status       VARCHAR,     -- loaded | skipped_same_checksum | no_data | rejected | duplicate | removed | failed
    message      VARCHAR,
    loaded_at    TIMESTAMP
);

-- Delivered rows that ingest could not parse or cast, with their text as delivered; validation quarantines them.
-- A malformed line still gets a raw row (lineage only, typed columns NULL) so every data row of a file is accounted for.
CREATE TABLE IF NOT EXISTS meta.ingest_rejects (
    table_name   VARCHAR,
    _dt          DATE,
    _file        VARCHAR,
    _row         BIGINT,
    error        VARCHAR,
    raw_values   VARCHAR      -- JSON of the delivered text
);

CREATE TABLE IF NOT EXISTS meta.validation_results (
    as_of        DATE,
    table_name   VARCHAR,
    rule         VARCHAR,
    level        VARCHAR,     -- row | table | set
    success      BOOLEAN,
    checked      BIGINT,
    failed       BIGINT,
    detail       VARCHAR,
    checked_at   TIMESTAMP
);

-- A quarantined raw row is identified by its lineage (_file, _row); the as-of views leave it out.
CREATE TABLE IF NOT EXISTS meta.quarantine (
    table_name      VARCHAR,
    _file           VARCHAR,
    _row            BIGINT,
    row_key         VARCHAR,
    rule            VARCHAR,
    raw_values      VARCHAR,  -- JSON of the row as delivered
    as_of           DATE,
    quarantined_at  TIMESTAMP
);

CREATE TABLE IF NOT EXISTS meta.drift_metrics (
    as_of          DATE,
    model_version  VARCHAR,
    kind           VARCHAR,   -- feature | score
    column_name    VARCHAR,
    method         VARCHAR,
    value          DOUBLE,
    threshold      DOUBLE,
    drifted        BOOLEAN,
    computed_at    TIMESTAMP
);

CREATE TABLE IF NOT EXISTS meta.model_registry (
    version        VARCHAR,
    model_name     VARCHAR,
    trained_as_of  DATE,
    data_version   VARCHAR,
    metrics        VARCHAR,   -- JSON
    config         VARCHAR,   -- JSON
    path           VARCHAR,   -- relative to the artifacts folder
    status         VARCHAR,   -- champion | challenger | retired
    created_at     TIMESTAMP
);

CREATE TABLE IF NOT EXISTS meta.runs (
    run_id      VARCHAR,
    flow        VARCHAR,
    as_of       DATE,
    status      VARCHAR,
    detail      VARCHAR,
    started_at  TIMESTAMP,
    ended_at    TIMESTAMP
);

CREATE TABLE IF NOT EXISTS meta.published_lists (
    as_of          DATE,
    territory      VARCHAR,
    rows           BIGINT,
    sha256         VARCHAR,
    model_version  VARCHAR,
    run_id         VARCHAR,
    path           VARCHAR,
    published_at   TIMESTAMP
);

-- Surrogate keys of text ids (sources with string_ids): one stable BIGINT per (entity, original id), never reused.
CREATE TABLE IF NOT EXISTS meta.id_map (
    domain    VARCHAR,   -- customer | station | company | account | shipment | sales_event
    original  VARCHAR,
    id        BIGINT
);

-- Each stage of a run as it happens (the web desk and `leadgraph status` read it).
CREATE TABLE IF NOT EXISTS meta.run_stages (
    run_id      VARCHAR,
    stage       VARCHAR,
    state       VARCHAR,      -- running | done | held | failed
    detail      VARCHAR,
    started_at  TIMESTAMP,
    ended_at    TIMESTAMP,
    seconds     DOUBLE
);

-- Every file of a model version with its sha256, checked before the version is loaded.
CREATE TABLE IF NOT EXISTS meta.model_files (
    version     VARCHAR,
    file        VARCHAR,      -- relative to the version's folder
    bytes       BIGINT,
    sha256      VARCHAR
);
