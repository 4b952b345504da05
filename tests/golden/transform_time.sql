INSERT INTO time (start_time, hour, day, week, month, year, weekday) SELECT new_times.start_time, CAST(EXTRACT(hour FROM new_times.start_time) AS SMALLINT) AS hour, CAST(EXTRACT(day FROM new_times.start_time) AS SMALLINT) AS day, CAST(EXTRACT(week FROM new_times.start_time) AS SMALLINT) AS week, CAST(EXTRACT(month FROM new_times.start_time) AS SMALLINT) AS month, CAST(EXTRACT(year FROM new_times.start_time) AS SMALLINT) AS year, CAST(EXTRACT(dow FROM new_times.start_time) AS SMALLINT) AS weekday
FROM (SELECT DISTINCT TIMESTAMP 'epoch' + staging_events.ts / 1000.0 * INTERVAL '1 second' AS start_time
FROM staging_events
WHERE staging_events.page = 'NextSong' AND staging_events.user_id IS NOT NULL) AS new_times
WHERE NOT (EXISTS (SELECT *
FROM time
WHERE time.start_time = new_times.start_time)) ORDER BY new_times.start_time
