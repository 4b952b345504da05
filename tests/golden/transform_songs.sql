INSERT INTO songs (song_id, title, artist_id, year, duration, artist_name) SELECT staged_songs.song_id, staged_songs.title, staged_songs.artist_id, nullif(staged_songs.year, 0) AS nullif_1, staged_songs.duration, staged_songs.artist_name
FROM (SELECT ranked_songs.song_id AS song_id, ranked_songs.title AS title, ranked_songs.artist_id AS artist_id, ranked_songs.artist_name AS artist_name, ranked_songs.year AS year, ranked_songs.duration AS duration, ranked_songs.rn AS rn
FROM (SELECT staging_songs.song_id AS song_id, staging_songs.title AS title, staging_songs.artist_id AS artist_id, staging_songs.artist_name AS artist_name, staging_songs.year AS year, staging_songs.duration AS duration, row_number() OVER (PARTITION BY staging_songs.song_id ORDER BY staging_songs.title ASC NULLS LAST, staging_songs.artist_id ASC NULLS LAST, staging_songs.artist_name ASC NULLS LAST, staging_songs.year ASC NULLS LAST, staging_songs.duration ASC NULLS LAST) AS rn
FROM staging_songs
WHERE staging_songs.song_id IS NOT NULL) AS ranked_songs
WHERE ranked_songs.rn = 1) AS staged_songs
WHERE NOT (EXISTS (SELECT *
FROM songs
WHERE songs.song_id = staged_songs.song_id))
