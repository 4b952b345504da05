SELECT users.user_id
FROM users
WHERE users.user_id IS NOT NULL GROUP BY users.user_id
HAVING count(*) > 1 ORDER BY users.user_id
 LIMIT 6
