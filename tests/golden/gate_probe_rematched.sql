SELECT 1 AS anon_1
FROM (SELECT DISTINCT staging_songs.title AS title, staging_songs.artist_name AS artist_name, staging_songs.duration AS duration
FROM staging_songs) AS staged_songs JOIN songplays ON songplays.song_title = staged_songs.title AND songplays.artist_name = staged_songs.artist_name AND songplays.song_length = staged_songs.duration LEFT OUTER JOIN users ON users.user_id = songplays.user_id LEFT OUTER JOIN time ON time.start_time = songplays.start_time LEFT OUTER JOIN songs ON songs.song_id = songplays.song_id LEFT OUTER JOIN artists ON artists.artist_id = songplays.artist_id
WHERE songplays.user_id IS NOT NULL AND users.user_id IS NULL OR songplays.start_time IS NOT NULL AND time.start_time IS NULL OR songplays.song_id IS NOT NULL AND songs.song_id IS NULL OR songplays.artist_id IS NOT NULL AND artists.artist_id IS NULL
 LIMIT 1
