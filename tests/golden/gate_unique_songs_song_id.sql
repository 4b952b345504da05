SELECT songs.song_id
FROM songs
WHERE songs.song_id IS NOT NULL GROUP BY songs.song_id
HAVING count(*) > 1 ORDER BY songs.song_id
 LIMIT 6
