-- Write the explained reasons (temp frame `reasons`) onto D's scores; everything else of D keeps NULL reasons.
UPDATE scores
SET reason_1 = r.reason_1, reason_2 = r.reason_2, reason_3 = r.reason_3, reason_codes = r.reason_codes
FROM reasons r
WHERE scores.as_of = $as_of AND scores.customer_id = r.customer_id
