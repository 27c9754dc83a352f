-- Rows of a mapped sample whose reference names a key the referenced sample does not have (compared as text).
SELECT count(*) FROM {mapped} m
WHERE m.{column} IS NOT NULL
  AND CAST(m.{column} AS VARCHAR) NOT IN (SELECT CAST({ref_key} AS VARCHAR) FROM {ref_mapped} WHERE {ref_key} IS NOT NULL)
