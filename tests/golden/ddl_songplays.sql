CREATE TABLE songplays (
	songplay_id BIGINT IDENTITY(0,1) NOT NULL,
	start_time TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	user_id INTEGER NOT NULL,
	level VARCHAR(512),
	song_id VARCHAR(512),
	artist_id VARCHAR(512),
	session_id BIGINT NOT NULL,
	location VARCHAR(1024),
	user_agent VARCHAR(1024),
	song_title VARCHAR(1024),
	artist_name VARCHAR(1024),
	song_length DOUBLE PRECISION,
	CONSTRAINT pk_songplays PRIMARY KEY (songplay_id),
	CONSTRAINT uq_songplays_user_id_session_id_start_time UNIQUE (user_id, session_id, start_time)
) DISTSTYLE KEY DISTKEY (song_id) SORTKEY (start_time)
