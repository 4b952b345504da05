COPY staging_events (artist, auth, first_name, gender, item_in_session, last_name, length, level, location, method, page, registration, session_id, song, status, ts, user_agent, user_id) FROM 's3://udacity-dend/log_data/'
        WITH CREDENTIALS AS 'aws_iam_role=arn:aws:iam::123456789012:role/dwhRole'
        FORMAT AS JSON AS 's3://udacity-dend/log_json_path.json'
        COMPUPDATE OFF
MAXERROR AS 11
STATUPDATE OFF
REGION 'us-west-2'
