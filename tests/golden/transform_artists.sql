INSERT INTO artists (artist_id, name, location, latitude, longitude) SELECT staged_artists.artist_id, staged_artists.name, staged_artists.location, staged_artists.latitude, staged_artists.longitude
FROM (SELECT ranked_artists.artist_id AS artist_id, ranked_artists.name AS name, ranked_artists.location AS location, ranked_artists.latitude AS latitude, ranked_artists.longitude AS longitude
FROM (SELECT staging_songs.artist_id AS artist_id, max(nullif(staging_songs.artist_name, '')) OVER (PARTITION BY staging_songs.artist_id) AS name, max(nullif(staging_songs.artist_location, '')) OVER (PARTITION BY staging_songs.artist_id) AS location, staging_songs.artist_latitude AS latitude, staging_songs.artist_longitude AS longitude, row_number() OVER (PARTITION BY staging_songs.artist_id ORDER BY staging_songs.artist_latitude DESC NULLS LAST, staging_songs.artist_longitude DESC NULLS LAST) AS rn
FROM staging_songs
WHERE staging_songs.artist_id IS NOT NULL) AS ranked_artists
WHERE ranked_artists.rn = 1) AS staged_artists
WHERE NOT (EXISTS (SELECT *
FROM artists
WHERE artists.artist_id = staged_artists.artist_id))
