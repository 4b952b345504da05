CREATE TABLE users (
	user_id INTEGER NOT NULL,
	first_name VARCHAR(512),
	last_name VARCHAR(512),
	gender VARCHAR(512),
	level VARCHAR(512),
	last_event_ts BIGINT NOT NULL,
	CONSTRAINT pk_users PRIMARY KEY (user_id)
) DISTSTYLE ALL SORTKEY (user_id)
