SELECT songplays.user_id, songplays.session_id, songplays.start_time
FROM songplays
WHERE songplays.user_id IS NOT NULL AND songplays.session_id IS NOT NULL AND songplays.start_time IS NOT NULL GROUP BY songplays.user_id, songplays.session_id, songplays.start_time
HAVING count(*) > 1 ORDER BY songplays.user_id, songplays.session_id, songplays.start_time
 LIMIT 6
