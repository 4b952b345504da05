INSERT INTO users (user_id, first_name, last_name, gender, level, last_event_ts) SELECT staged_users.user_id, staged_users.first_name, staged_users.last_name, staged_users.gender, staged_users.level, staged_users.ts
FROM (SELECT ranked_users.user_id AS user_id, ranked_users.first_name AS first_name, ranked_users.last_name AS last_name, ranked_users.gender AS gender, ranked_users.level AS level, ranked_users.ts AS ts
FROM (SELECT staging_events.user_id AS user_id, staging_events.first_name AS first_name, staging_events.last_name AS last_name, staging_events.gender AS gender, staging_events.level AS level, staging_events.ts AS ts, row_number() OVER (PARTITION BY staging_events.user_id ORDER BY staging_events.level DESC NULLS LAST, staging_events.first_name DESC NULLS LAST, staging_events.last_name DESC NULLS LAST, staging_events.gender DESC NULLS LAST) AS rn
FROM staging_events JOIN (SELECT staging_events.user_id AS user_id, max(staging_events.ts) AS ts
FROM staging_events
WHERE staging_events.user_id IS NOT NULL GROUP BY staging_events.user_id) AS latest_events ON staging_events.user_id = latest_events.user_id AND staging_events.ts = latest_events.ts) AS ranked_users
WHERE ranked_users.rn = 1) AS staged_users
WHERE NOT (EXISTS (SELECT *
FROM users
WHERE users.user_id = staged_users.user_id))
