-- Seed 004 (analytics platform) on Headwater: the events the collector (POST /v1/batch, /v1/track, ...) stores
-- in topic `events`, one Segment event per record, keyed by userId (else anonymousId).
CREATE STREAM IF NOT EXISTS segment_events (type VARCHAR, event VARCHAR, name VARCHAR, userId VARCHAR,
    anonymousId VARCHAR, messageId VARCHAR, receivedAt VARCHAR)
    WITH (kafka_topic='events', value_format='json');

-- Events by type: track events by their name ("Download", "Order Completed"), the others by type.
CREATE TABLE IF NOT EXISTS events_by_type WITH (kafka_topic='events_by_type', value_format='json') AS
    SELECT COALESCE(event, type) AS event_type, COUNT(*) AS events
    FROM segment_events GROUP BY COALESCE(event, type) EMIT CHANGES;
CREATE TABLE IF NOT EXISTS events_per_min_by_type WITH (kafka_topic='events_per_min_by_type', value_format='json') AS
    SELECT COALESCE(event, type) AS event_type, COUNT(*) AS events
    FROM segment_events WINDOW TUMBLING (SIZE 60 SECONDS, RETENTION 5 MINUTES) GROUP BY COALESCE(event, type) EMIT CHANGES;

-- Events by user (anonymous visitors by their anonymousId).
CREATE TABLE IF NOT EXISTS events_by_user WITH (kafka_topic='events_by_user', value_format='json') AS
    SELECT COALESCE(userId, anonymousId) AS user_id, COUNT(*) AS events
    FROM segment_events GROUP BY COALESCE(userId, anonymousId) EMIT CHANGES;
