SELECT songplays.songplay_id
FROM songplays
WHERE songplays.songplay_id IS NOT NULL GROUP BY songplays.songplay_id
HAVING count(*) > 1 ORDER BY songplays.songplay_id
 LIMIT 6
