"""What the raw-table contract asks of a source: required columns, time columns, id domains, and what each optional column buys."""

from __future__ import annotations

# Tables every run needs; the others may have no source at all (an empty table, the graph without their relations).
REQUIRED_TABLES: tuple[str, ...] = ("customers", "sales_events")
# Tables that only the offer recommender reads: a run without them is complete (no table-level "missing" failure).
OFFER_TABLES: tuple[str, ...] = ("services", "service_events")

# The column a source's rows are dated by when it has no delivery folders (change rows by their version time).
TIME_COLUMN: dict[str, str] = {
    "stations": "updated_at",
    "companies": "updated_at",
    "customers": "updated_at",
    "accounts": "updated_at",
    "customer_accounts": "linked_at",
    "shipments": "shipped_at",
    "sales_events": "event_at",
    "services": "updated_at",
    "service_events": "event_at",
}

# Columns a mapping must fill (from a source column or a constant default); validation rejects rows without them.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "stations": ("station_id", "region", "kind", "updated_at"),
    "companies": ("company_id", "updated_at"),
    "customers": ("customer_id", "customer_type", "station_id", "created_at", "updated_at"),
    "accounts": ("account_id", "account_type", "created_at", "updated_at"),
    "customer_accounts": ("customer_id", "account_id", "linked_at"),
    "shipments": ("shipment_id", "sender_customer_id", "receiver_customer_id", "origin_station_id", "shipped_at", "weight_kg"),
    "sales_events": ("event_id", "customer_id", "event_at", "outcome"),
    "services": ("service_id", "name", "category", "updated_at"),
    "service_events": ("event_id", "customer_id", "service_id", "behaviour", "event_at"),
}

# What leaving an optional column out (NULL in every row) costs; README "Your own tables" prints this table.
OPTIONAL_COLUMN_COST: dict[tuple[str, str], str] = {
    ("stations", "city"): "nothing the models use; shown nowhere",
    ("stations", "lat"): "nothing the models use today",
    ("stations", "lon"): "nothing the models use today",
    ("stations", "opened_at"): "the station-age feature is empty",
    ("companies", "industry"): "company industry features are all unknown",
    ("companies", "size_band"): "company size features are all unknown",
    ("companies", "registered_capital"): "the capital feature is empty",
    ("companies", "city"): "nothing the models use",
    ("customers", "name"): "the lead list's customer_name column is empty",
    ("customers", "industry"): "customer industry features are all unknown; the list's industry column is empty",
    ("customers", "company_id"): "no belongs-to relation: customers of one company are not linked",
    ("accounts", "payment_method"): "payment-method features are all unknown",
    ("shipments", "fee"): "fee totals are empty",
    ("shipments", "service_level"): "service-mix features are all unknown",
    ("sales_events", "channel"): "contact-channel features are all unknown",
    ("services", "destination_region"): "offer names carry no destination; nothing the models use",
    ("services", "launched_at"): "nothing the models use",
}

# Id columns and the entity their values name: one surrogate-key map per entity, so a customer's text id maps to the
# same warehouse key in every table that mentions it.
ID_DOMAINS: dict[tuple[str, str], str] = {
    ("stations", "station_id"): "station",
    ("companies", "company_id"): "company",
    ("customers", "customer_id"): "customer",
    ("customers", "station_id"): "station",
    ("customers", "company_id"): "company",
    ("accounts", "account_id"): "account",
    ("customer_accounts", "customer_id"): "customer",
    ("customer_accounts", "account_id"): "account",
    ("shipments", "shipment_id"): "shipment",
    ("shipments", "sender_customer_id"): "customer",
    ("shipments", "receiver_customer_id"): "customer",
    ("shipments", "origin_station_id"): "station",
    ("sales_events", "event_id"): "sales_event",
    ("sales_events", "customer_id"): "customer",
    ("services", "service_id"): "service",
    ("service_events", "event_id"): "service_event",
    ("service_events", "customer_id"): "customer",
    ("service_events", "service_id"): "service",
}

# References checked by `leadgraph check` (validation checks the same ones on the ingested rows).
REFERENCES: dict[str, dict[str, str]] = {
    "customers": {"station_id": "stations", "company_id": "companies"},
    "customer_accounts": {"customer_id": "customers", "account_id": "accounts"},
    "shipments": {"sender_customer_id": "customers", "receiver_customer_id": "customers", "origin_station_id": "stations"},
    "sales_events": {"customer_id": "customers"},
    "service_events": {"customer_id": "customers", "service_id": "services"},
}

# What identifies one delivered row of each table (key duplicates in `leadgraph check`).
KEYS: dict[str, tuple[str, ...]] = {
    "stations": ("station_id", "updated_at"),
    "companies": ("company_id", "updated_at"),
    "customers": ("customer_id", "updated_at"),
    "accounts": ("account_id", "updated_at"),
    "customer_accounts": ("customer_id", "account_id"),
    "shipments": ("shipment_id",),
    "sales_events": ("event_id",),
    "services": ("service_id", "updated_at"),
    "service_events": ("event_id",),
}

# Outcome values the contract knows (sales_events.outcome) and the ones the labels are made of.
OUTCOMES: tuple[str, ...] = ("contacted", "high_interest", "contract_signed")
LABEL_OUTCOMES: tuple[str, ...] = ("high_interest", "contract_signed")

# What a territory can be (publish.territory = "<entity>.<column>"): a column of the prospect's customer row or of
# its station row, as of D.
TERRITORY_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": ("name", "customer_type", "industry", "station_id", "company_id"),
    "station": ("station_id", "city", "region", "kind"),
}

# Category columns the graph one-hot encodes, and the graph setting that lists their known values (others count as
# "other"); `leadgraph check` counts the values outside each list.
CATEGORY_VOCABULARIES: dict[tuple[str, str], str] = {
    ("customers", "industry"): "industries",
    ("companies", "industry"): "industries",
    ("companies", "size_band"): "size_bands",
    ("accounts", "account_type"): "account_types",
    ("accounts", "payment_method"): "payment_methods",
    ("shipments", "service_level"): "service_levels",
    ("stations", "kind"): "station_kinds",
}

# Behaviours of service_events, in funnel order; the last one (regular use of an offer) is what offers are ranked for.
BEHAVIOURS: tuple[str, ...] = ("enquiry", "quote", "trial", "adopted")
