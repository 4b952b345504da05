CREATE TABLE songs (
	song_id VARCHAR(512) NOT NULL,
	title VARCHAR(1024),
	artist_id VARCHAR(512),
	year INTEGER,
	duration DOUBLE PRECISION,
	artist_name VARCHAR(1024),
	CONSTRAINT pk_songs PRIMARY KEY (song_id)
) DISTSTYLE KEY DISTKEY (song_id) SORTKEY (song_id)
