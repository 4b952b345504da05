SELECT unloaded.user_id, unloaded.session_id, unloaded.ts
FROM (SELECT DISTINCT staging_events.user_id AS user_id, staging_events.session_id AS session_id, staging_events.ts AS ts
FROM staging_events
WHERE staging_events.page = 'NextSong' AND staging_events.user_id IS NOT NULL AND NOT (EXISTS (SELECT *
FROM songplays
WHERE songplays.user_id = staging_events.user_id AND songplays.session_id = staging_events.session_id AND songplays.start_time = TIMESTAMP 'epoch' + staging_events.ts / 1000.0 * INTERVAL '1 second'))) AS unloaded ORDER BY unloaded.user_id, unloaded.session_id, unloaded.ts
 LIMIT 6
