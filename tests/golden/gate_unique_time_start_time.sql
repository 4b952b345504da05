SELECT time.start_time
FROM time
WHERE time.start_time IS NOT NULL GROUP BY time.start_time
HAVING count(*) > 1 ORDER BY time.start_time
 LIMIT 6
