SELECT dangling.start_time
FROM (SELECT DISTINCT songplays.start_time AS start_time
FROM staging_events JOIN songplays ON songplays.user_id = staging_events.user_id AND songplays.session_id = staging_events.session_id AND songplays.start_time = TIMESTAMP 'epoch' + staging_events.ts / 1000.0 * INTERVAL '1 second' LEFT OUTER JOIN time ON time.start_time = songplays.start_time
WHERE staging_events.page = 'NextSong' AND staging_events.user_id IS NOT NULL AND songplays.start_time IS NOT NULL AND time.start_time IS NULL) AS dangling ORDER BY dangling.start_time
 LIMIT 6
