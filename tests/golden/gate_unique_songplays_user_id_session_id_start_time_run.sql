SELECT songplays.user_id, songplays.session_id, songplays.start_time
FROM (SELECT DISTINCT staging_events.user_id AS user_id, staging_events.session_id AS session_id, staging_events.ts AS ts
FROM staging_events
WHERE staging_events.page = 'NextSong' AND staging_events.user_id IS NOT NULL) AS staged JOIN songplays ON songplays.user_id = staged.user_id AND songplays.session_id = staged.session_id AND songplays.start_time = TIMESTAMP 'epoch' + staged.ts / 1000.0 * INTERVAL '1 second' GROUP BY songplays.user_id, songplays.session_id, songplays.start_time
HAVING count(*) > 1 ORDER BY songplays.user_id, songplays.session_id, songplays.start_time
 LIMIT 6
