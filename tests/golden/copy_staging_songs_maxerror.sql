COPY staging_songs (num_songs, artist_id, artist_latitude, artist_longitude, artist_location, artist_name, song_id, title, duration, year) FROM 's3://udacity-dend/song_data/'
        WITH CREDENTIALS AS 'aws_iam_role=arn:aws:iam::123456789012:role/dwhRole'
        FORMAT AS JSON AS 'auto'
        COMPUPDATE OFF
MAXERROR AS 4
STATUPDATE OFF
REGION 'us-west-2'
