-- Read a group of CSV files with the same header as text. The dialect is fixed, not sniffed, so a
-- wrong delimiter or a broken line is an error we report rather than a guess; lines that do not
-- parse are kept aside in _rejects with their text.
CREATE OR REPLACE TEMP TABLE _stg AS
SELECT *, filename AS _path
FROM read_csv(
    ?,
    columns = {columns},
    auto_detect = false, header = true, delim = ',', quote = '"', escape = '"',
    encoding = '{encoding}', max_line_size = {max_line_size},
    ignore_errors = true, store_rejects = true, rejects_table = '_rejects', rejects_scan = '_reject_scans',
    filename = true
)
