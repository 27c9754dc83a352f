-- Catalogue rule: an offer keeps its category. A covered services row whose category differs from
-- the category of that offer's earliest clean version delivered up to d is flagged (the first one stays).
INSERT INTO _flagged
SELECT 'services', s._file, s._row, 'catalogue:category_changed'
FROM raw.services s
JOIN (
    SELECT service_id, arg_min(category, updated_at) AS category
    FROM raw.services r
    WHERE _dt <= $d AND category IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM meta.quarantine q
          WHERE q.table_name = 'services' AND q._file = r._file AND q._row = r._row)
    GROUP BY service_id
) first ON first.service_id = s.service_id
WHERE s._file IN (SELECT rel FROM _scope WHERE table_name = 'services')
  AND s.category IS DISTINCT FROM first.category
  AND s.category IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM meta.quarantine q
      WHERE q.table_name = 'services' AND q._file = s._file AND q._row = s._row)
