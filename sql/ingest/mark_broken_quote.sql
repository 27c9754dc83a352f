-- A CSV line whose quote runs past the line end: record the rule and the raw line on its quarantined row.
UPDATE _bad
SET error = 'quote runs past the line end', line = ?
WHERE _row = ? AND _path IN (SELECT path FROM _files WHERE rel = ?)
