-- The recommended (customer, offer) pairs of _offers_frame whose offer a peer of the customer had adopted by the
-- end of d: shipping partners (either direction), company siblings and account co-holders. Siblings and
-- co-holders go through their company's or account's adopters (how many, and one of them), never through
-- member-by-member pairs, which grow with the square of a group's size.
CREATE OR REPLACE TEMP TABLE peer_adopted AS
WITH recs AS (SELECT DISTINCT customer_id, service_id FROM _offers_frame),
adopted AS (
    SELECT DISTINCT customer_id, service_id FROM asof_service_events($d) WHERE behaviour = 'adopted'),
partners AS (
    SELECT sender_customer_id AS customer_id, receiver_customer_id AS peer_id FROM asof_shipments($d)
    UNION
    SELECT receiver_customer_id, sender_customer_id FROM asof_shipments($d)),
companies AS (SELECT customer_id, company_id FROM asof_customers($d) WHERE company_id IS NOT NULL),
company_adopted AS (
    SELECT c.company_id, a.service_id, count(*) AS adopters, min(a.customer_id) AS one_adopter
    FROM companies c JOIN adopted a USING (customer_id) GROUP BY ALL),
holders AS (SELECT DISTINCT customer_id, account_id FROM asof_customer_accounts($d)),
account_adopted AS (
    SELECT h.account_id, a.service_id, count(*) AS adopters, min(a.customer_id) AS one_adopter
    FROM holders h JOIN adopted a USING (customer_id) GROUP BY ALL)
SELECT r.customer_id, r.service_id
FROM recs r JOIN partners p USING (customer_id) JOIN adopted a ON a.customer_id = p.peer_id AND a.service_id = r.service_id
UNION
SELECT r.customer_id, r.service_id
FROM recs r JOIN companies c USING (customer_id) JOIN company_adopted g ON g.company_id = c.company_id AND g.service_id = r.service_id
WHERE g.adopters > 1 OR g.one_adopter <> r.customer_id
UNION
SELECT r.customer_id, r.service_id
FROM recs r JOIN holders h USING (customer_id) JOIN account_adopted g ON g.account_id = h.account_id AND g.service_id = r.service_id
WHERE g.adopters > 1 OR g.one_adopter <> r.customer_id
