-- How often each value of one column occurs in a mapped sample.
SELECT CAST({column} AS VARCHAR) AS value, count(*) AS n FROM {mapped} GROUP BY ALL ORDER BY n DESC, value
