SELECT dangling.user_id
FROM (SELECT songplays.user_id AS user_id
FROM staging_events JOIN songplays ON songplays.user_id = staging_events.user_id AND songplays.session_id = staging_events.session_id AND songplays.start_time = TIMESTAMP 'epoch' + staging_events.ts / 1000.0 * INTERVAL '1 second' LEFT OUTER JOIN users ON users.user_id = songplays.user_id
WHERE staging_events.page = 'NextSong' AND staging_events.user_id IS NOT NULL AND songplays.user_id IS NOT NULL AND users.user_id IS NULL UNION SELECT songplays.user_id AS user_id
FROM (SELECT DISTINCT staging_songs.title AS title, staging_songs.artist_name AS artist_name, staging_songs.duration AS duration
FROM staging_songs) AS staged_songs JOIN songplays ON songplays.song_title = staged_songs.title AND songplays.artist_name = staged_songs.artist_name AND songplays.song_length = staged_songs.duration LEFT OUTER JOIN users ON users.user_id = songplays.user_id
WHERE songplays.user_id IS NOT NULL AND users.user_id IS NULL) AS dangling ORDER BY dangling.user_id
 LIMIT 6
