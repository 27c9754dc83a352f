-- Each contract column's delivered value after renames, defaults and recodes, with the row as delivered (JSON).
CREATE OR REPLACE TEMP TABLE {name} AS
SELECT {pre}, _file, _row, _folder_dt, to_json(struct_pack({raw})) AS _raw
FROM {src}
