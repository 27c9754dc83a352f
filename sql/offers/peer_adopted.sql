-- (customer, offer) pairs where a peer of the customer had adopted the offer by the end of d: shipping partners
-- (either direction), company siblings and account co-holders.
CREATE OR REPLACE TEMP TABLE peer_adopted AS
WITH adopted AS (
    SELECT DISTINCT customer_id, service_id FROM asof_service_events($d) WHERE behaviour = 'adopted'),
cu AS (SELECT customer_id, company_id FROM asof_customers($d) WHERE company_id IS NOT NULL),
peers AS (
    SELECT sender_customer_id AS customer_id, receiver_customer_id AS peer_id FROM asof_shipments($d)
    UNION
    SELECT receiver_customer_id, sender_customer_id FROM asof_shipments($d)
    UNION
    SELECT a.customer_id, b.customer_id FROM cu a JOIN cu b ON a.company_id = b.company_id AND a.customer_id <> b.customer_id
    UNION
    SELECT a.customer_id, b.customer_id
    FROM asof_customer_accounts($d) a JOIN asof_customer_accounts($d) b ON a.account_id = b.account_id AND a.customer_id <> b.customer_id)
SELECT DISTINCT p.customer_id, a.service_id FROM peers p JOIN adopted a ON a.customer_id = p.peer_id
