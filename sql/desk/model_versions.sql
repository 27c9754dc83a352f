-- Every registered model version, oldest first, for the models page.
SELECT version, model_name, trained_as_of, data_version, metrics, config, path, status, created_at
FROM meta.model_registry
ORDER BY created_at, version
