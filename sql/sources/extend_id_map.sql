-- New text ids of one entity get the next surrogate keys, in text order; keys already given never change.
INSERT INTO meta.id_map
SELECT $domain, v, coalesce((SELECT max(id) FROM meta.id_map WHERE domain = $domain), 0) + row_number() OVER (ORDER BY v)
FROM (SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM {pre_table}) s
WHERE v IS NOT NULL AND v NOT IN (SELECT original FROM meta.id_map WHERE domain = $domain)
