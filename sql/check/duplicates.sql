-- Rows of a mapped sample that repeat a key already seen (every copy after the first).
SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {mapped} WHERE {not_null} GROUP BY {key}) WHERE n > 1
