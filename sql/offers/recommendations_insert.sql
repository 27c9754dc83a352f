-- D's next best offers from the registered frame _offers_frame (customer_id, rank, service_id, score), with each
-- offer's name and whether one of the customer's peers (shipping partner either way, company sibling, account
-- co-holder) had adopted it by the end of D.
INSERT INTO offer_recommendations
SELECT CAST($d AS DATE), $model, f.customer_id, f.rank, f.service_id, s.name, f.score,
       EXISTS (SELECT 1 FROM peer_adopted p WHERE p.customer_id = f.customer_id AND p.service_id = f.service_id)
FROM _offers_frame f
JOIN asof_services($d) s USING (service_id)
ORDER BY f.customer_id, f.rank
