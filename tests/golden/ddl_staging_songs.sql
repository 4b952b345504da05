CREATE TABLE staging_songs (
	num_songs INTEGER,
	artist_id VARCHAR(512),
	artist_latitude DOUBLE PRECISION,
	artist_longitude DOUBLE PRECISION,
	artist_location VARCHAR(1024),
	artist_name VARCHAR(1024),
	song_id VARCHAR(512),
	title VARCHAR(1024),
	duration DOUBLE PRECISION,
	year INTEGER
) DISTSTYLE KEY DISTKEY (title)
