-- The champion's scores of every prospect, one row per (as_of, customer_id): the daily run replaces a day's
-- rows as a whole, so a day never mixes model versions. The reason columns are filled by the explain stage
-- for the top of each territory's list and stay NULL below it.
CREATE TABLE IF NOT EXISTS scores (
    as_of            DATE,
    model_version    VARCHAR,
    customer_id      BIGINT,
    p_high_interest  DOUBLE,
    p_contract       DOUBLE,
    score            DOUBLE,      -- 0-100
    reason_1         VARCHAR,
    reason_2         VARCHAR,
    reason_3         VARCHAR,
    reason_codes     VARCHAR      -- the three codes, '|'-separated
);
