SELECT CAST(MAX(start_time) AS VARCHAR(32)) FROM sys_load_error_detail WHERE session_id = 1073815883 AND table_id = 108863
