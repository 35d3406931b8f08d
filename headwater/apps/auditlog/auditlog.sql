-- Seed 000 (event audit log) on Headwater. The events are the seed's documents ({_id, type, details: {name,
-- action, userId, productId}, created_at}) on the topic its Mongo source connector wrote.
CREATE STREAM IF NOT EXISTS audit_events (_id BIGINT, type VARCHAR,
    details STRUCT<name VARCHAR, action VARCHAR, userId VARCHAR, productId VARCHAR>, created_at VARCHAR)
    WITH (kafka_topic='mongo-01-.eventlog.auditlog', value_format='json', partitions=1);

-- Per-day counts by (productId, screen, action): the seed's Spark job, but continuous. A new product has its
-- rows the moment its first event arrives; a day's rows are updated in place, never written twice.
CREATE TABLE IF NOT EXISTS audit_stats WITH (kafka_topic='audit_stats', key_format='json', value_format='json') AS
    SELECT SUBSTRING(created_at, 1, 10) AS day, details->productId AS productId, details->name AS name,
        details->action AS action, COUNT(*) AS count
    FROM audit_events
    GROUP BY SUBSTRING(created_at, 1, 10), details->productId, details->name, details->action EMIT CHANGES;

-- The summary topic keyed by screen, as the seed's <date>-eventlog-summary: one topic whose records carry
-- their DAY (a persistent query writes one topic), each count update as it happens.
CREATE STREAM IF NOT EXISTS audit_stats_changes (day VARCHAR KEY, productId VARCHAR KEY, name VARCHAR KEY,
    action VARCHAR KEY, count BIGINT)
    WITH (kafka_topic='audit_stats', key_format='json', value_format='json');
CREATE STREAM IF NOT EXISTS eventlog_summary
    WITH (kafka_topic='eventlog-summary', key_format='kafka', value_format='json') AS
    SELECT name AS screen, productId, AS_VALUE(name) AS name, action, count, day
    FROM audit_stats_changes PARTITION BY name;

-- The dashboard's "today": the events on their own time (created_at, UTC), in one-day windows.
CREATE STREAM IF NOT EXISTS audit_events_timed
    WITH (kafka_topic='audit_events_timed', value_format='json', timestamp='event_ts') AS
    SELECT _id, type, details, created_at,
        STRINGTOTIMESTAMP(SUBSTRING(created_at, 1, 19), 'yyyy-MM-dd''T''HH:mm:ss', 'UTC') AS event_ts
    FROM audit_events;
CREATE TABLE IF NOT EXISTS product_views_today WITH (kafka_topic='product_views_today', value_format='json') AS
    SELECT details->productId AS productId, COUNT(*) AS views
    FROM audit_events_timed WINDOW TUMBLING (SIZE 1 DAY, RETENTION 2 DAYS)
    WHERE details->action = 'VIEW' GROUP BY details->productId EMIT CHANGES;
CREATE TABLE IF NOT EXISTS product_orders_today WITH (kafka_topic='product_orders_today', value_format='json') AS
    SELECT details->productId AS productId, COUNT(*) AS orders
    FROM audit_events_timed WINDOW TUMBLING (SIZE 1 DAY, RETENTION 2 DAYS)
    WHERE type = 'ORDER' GROUP BY details->productId EMIT CHANGES;
