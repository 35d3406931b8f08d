-- Seed 001 (MAF) on Headwater: Debezium change events of maf.movie_ids (MariaDB/MySQL) and maf.tv_series_ids
-- (PostgreSQL), JSON with schemas as the seed's Connect worker wrote them, flattened into cleansed streams.
CREATE STREAM IF NOT EXISTS movie_ids_source (payload STRUCT<after STRUCT<original_title VARCHAR,
    popularity DOUBLE, id INT, video INT, adult INT>, op VARCHAR>)
    WITH (kafka_topic='mysql.maf.movie_ids', value_format='json', partitions=1);
CREATE STREAM IF NOT EXISTS tv_series_ids_source (payload STRUCT<after STRUCT<original_name VARCHAR,
    popularity DOUBLE, id INT>, op VARCHAR>)
    WITH (kafka_topic='postgres.maf.tv_series_ids', value_format='json', partitions=1);

-- The cleansed streams: the after-image flattened, MySQL's 0/1 booleans made booleans. Unlike the seed, a delete
-- (no after-image) is not turned into a row of nulls.
CREATE STREAM IF NOT EXISTS movie_ids_data WITH (kafka_topic='movie_ids_data', value_format='json', partitions=2) AS
    SELECT payload->after->original_title AS original_title, payload->after->popularity AS popularity,
        payload->after->id AS id,
        CASE WHEN payload->after->video = 1 THEN true ELSE false END AS video,
        CASE WHEN payload->after->adult = 1 THEN true ELSE false END AS adult
    FROM movie_ids_source WHERE payload->after IS NOT NULL;
CREATE STREAM IF NOT EXISTS tv_series_ids_data WITH (kafka_topic='tv_series_ids_data', value_format='json',
    partitions=2) AS
    SELECT payload->after->original_name AS original_name, payload->after->popularity AS popularity,
        payload->after->id AS id
    FROM tv_series_ids_source WHERE payload->after IS NOT NULL;

-- The people: MongoDB's maf.person_ids in the seed, whose cleansing it never wrote; here a PostgreSQL table.
CREATE STREAM IF NOT EXISTS person_ids_source (payload STRUCT<after STRUCT<name VARCHAR, popularity DOUBLE, id INT,
    adult BOOLEAN>, op VARCHAR>)
    WITH (kafka_topic='postgres.maf.person_ids', value_format='json', partitions=1);
CREATE STREAM IF NOT EXISTS person_ids_data WITH (kafka_topic='person_ids_data', value_format='json', partitions=2) AS
    SELECT TRIM(payload->after->name) AS name, payload->after->popularity AS popularity, payload->after->id AS id,
        COALESCE(payload->after->adult, false) AS adult
    FROM person_ids_source WHERE payload->after IS NOT NULL;

-- Changes per minute by table and operation (c, u, d, r), for the dashboard.
CREATE TABLE IF NOT EXISTS movie_changes_per_min AS
    SELECT payload->op AS op, COUNT(*) AS changes
    FROM movie_ids_source WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY payload->op EMIT CHANGES;
CREATE TABLE IF NOT EXISTS tv_series_changes_per_min AS
    SELECT payload->op AS op, COUNT(*) AS changes
    FROM tv_series_ids_source WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY payload->op EMIT CHANGES;
