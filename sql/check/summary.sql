-- One mapped sample: rows, dated rows' range, and per contract column the rows whose delivered value did not cast.
SELECT count(*) AS rows, min(_dt_row) AS first_day, max(_dt_row) AS last_day, {failures}
FROM {mapped}
