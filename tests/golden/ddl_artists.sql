CREATE TABLE artists (
	artist_id VARCHAR(512) NOT NULL,
	name VARCHAR(1024),
	location VARCHAR(1024),
	latitude DOUBLE PRECISION,
	longitude DOUBLE PRECISION,
	CONSTRAINT pk_artists PRIMARY KEY (artist_id)
) DISTSTYLE ALL SORTKEY (artist_id)
