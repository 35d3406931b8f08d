-- Seed 002 (website user analytics) on Headwater. The visits topic is the seed's; visitDate (epoch ms, as text)
-- is the event time, so a window holds the visits that happened in it, not those that arrived in it.
CREATE STREAM IF NOT EXISTS website_visits (country VARCHAR KEY, visitDate BIGINT, lastAction VARCHAR,
    duration BIGINT)
    WITH (kafka_topic='spark.streaming.website.visits', value_format='json', partitions=1, timestamp='visitDate');

-- Abandoned carts: visits whose last page was the shopping cart, as the seed's CSV lines
-- (visitDate,country,lastAction,duration), keyed by country.
CREATE STREAM IF NOT EXISTS abandoned_carts
    WITH (kafka_topic='spark.streaming.carts.abandoned', value_format='delimited') AS
    SELECT country, visitDate, AS_VALUE(country) AS visit_country, lastAction, duration
    FROM website_visits WHERE lastAction = 'SHOPPING_CART';

-- 5-second tumbling windows of event time: total visit seconds and visits by last page. Each window's row is
-- updated as its visits arrive; the JDBC sink upserts it into visit_summary_stats.
CREATE TABLE IF NOT EXISTS visit_summary WITH (kafka_topic='visit_summary', value_format='json') AS
    SELECT lastAction, CONCAT(lastAction, '@', CAST(WINDOWSTART AS VARCHAR)) AS id,
        SUM(duration) AS duration, COUNT(*) AS visits
    FROM website_visits WINDOW TUMBLING (SIZE 5 SECONDS, RETENTION 5 MINUTES) GROUP BY lastAction EMIT CHANGES;

-- The leaderboard: visit seconds and visits by last page since the start.
CREATE TABLE IF NOT EXISTS visit_leaderboard WITH (kafka_topic='visit_leaderboard', value_format='json') AS
    SELECT lastAction, SUM(duration) AS total_seconds, COUNT(*) AS visits
    FROM website_visits GROUP BY lastAction EMIT CHANGES;
