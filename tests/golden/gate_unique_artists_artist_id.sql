SELECT artists.artist_id
FROM artists
WHERE artists.artist_id IS NOT NULL GROUP BY artists.artist_id
HAVING count(*) > 1 ORDER BY artists.artist_id
 LIMIT 6
