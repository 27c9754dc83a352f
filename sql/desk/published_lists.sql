-- Every published list file, oldest day first, for the runs page.
SELECT as_of, territory, rows, model_version, run_id, path, published_at
FROM meta.published_lists
ORDER BY as_of, territory
