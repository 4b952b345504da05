UPDATE songplays SET song_id=song_matches.song_id, artist_id=song_matches.artist_id FROM (SELECT ranked_matches.title AS title, ranked_matches.artist_name AS artist_name, ranked_matches.duration AS duration, ranked_matches.song_id AS song_id, ranked_matches.artist_id AS artist_id
FROM (SELECT songs.title AS title, songs.artist_name AS artist_name, songs.duration AS duration, songs.song_id AS song_id, songs.artist_id AS artist_id, row_number() OVER (PARTITION BY songs.title, songs.artist_name, songs.duration ORDER BY songs.song_id ASC NULLS LAST) AS rn
FROM songs) AS ranked_matches
WHERE ranked_matches.rn = 1) AS song_matches WHERE songplays.song_title = song_matches.title AND songplays.artist_name = song_matches.artist_name AND songplays.song_length = song_matches.duration AND (songplays.song_id IS NULL OR songplays.song_id != song_matches.song_id OR songplays.artist_id IS NULL OR songplays.artist_id != song_matches.artist_id) AND (EXISTS (SELECT *
FROM staging_songs
WHERE staging_songs.title = song_matches.title AND staging_songs.artist_name = song_matches.artist_name AND staging_songs.duration = song_matches.duration))
