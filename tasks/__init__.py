"""One module per pipeline stage: plain typed functions, each with a thin Prefect task wrapper."""
