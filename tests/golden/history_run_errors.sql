SELECT load_errors.table_name, load_errors.source, load_errors.line, load_errors.column_name, load_errors.reason, load_errors.raw_line
FROM load_errors
WHERE load_errors.run_id = '0123456789abcdef0123456789abcdef' ORDER BY load_errors.error_id
