-- Next best offers per customer and day: the recommend stage replaces a day's rows as a whole.
CREATE TABLE IF NOT EXISTS offer_recommendations (
    as_of         DATE,
    offer_model   VARCHAR,     -- the stored offer model's folder, as_of=YYYY-MM-DD
    customer_id   BIGINT,
    rank          INTEGER,     -- 1 = best
    service_id    BIGINT,
    name          VARCHAR,
    score         DOUBLE,      -- the model's target-behaviour score (comparable within one model only)
    peer_adopted  BOOLEAN      -- a shipping partner, company sibling or account co-holder adopted it by D
);
