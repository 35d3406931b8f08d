-- The clickstream demo's statements.sql (confluentinc/examples clickstream/ksql/ksql-clickstream-demo/demo),
-- with the two tables the kafka-basics fork adds (BANDWIDTH_PER_MIN, USER_SESSION_BANDWIDTH).
-- Reconstructed from the reference notes (shared/reference/ksqldb-connect-cdc.md 5.2 and
-- shared/reference/seed-systems.md seed 003) in the upstream file's own layout and casing.

-- Clickstream
CREATE STREAM clickstream (
    _time bigint,
    time varchar,
    ip varchar,
    request varchar,
    status int,
    userid int,
    bytes bigint,
    agent varchar
) with (
    kafka_topic = 'clickstream',
    value_format = 'json'
);

-- Clickstream Status Codes
CREATE TABLE clickstream_codes (
    code int primary key,
    definition varchar
) with (
    kafka_topic = 'clickstream_codes',
    value_format = 'json'
);

-- Users
CREATE TABLE WEB_USERS (
    user_id int primary key,
    registered_At BIGINT,
    username varchar,
    first_name varchar,
    last_name varchar,
    city varchar,
    level varchar
) with (
    kafka_topic = 'clickstream_users',
    value_format = 'json'
);

-- Build a user-enriched clickstream
CREATE STREAM USER_CLICKSTREAM AS
    SELECT
        userid,
        u.username,
        ip,
        u.city,
        request,
        status,
        bytes
    FROM clickstream c
    LEFT JOIN web_users u ON c.userid = u.user_id;

-- Error codes enriched with their definitions
CREATE STREAM ENRICHED_ERROR_CODES AS
    SELECT
        code,
        definition
    FROM clickstream
    LEFT JOIN clickstream_codes ON clickstream.status = clickstream_codes.code;

-- Number of events per minute per user
CREATE table events_per_min AS
    SELECT
        userid as k1,
        AS_VALUE(userid) as userid,
        WINDOWSTART as EVENT_TS,
        count(*) AS events
    FROM clickstream window TUMBLING (size 60 second)
    GROUP BY userid;

-- Number of pages per minute per user
CREATE TABLE pages_per_min AS
    SELECT
        userid as k1,
        AS_VALUE(userid) as userid,
        WINDOWSTART as EVENT_TS,
        count(*) AS pages
    FROM clickstream WINDOW HOPPING (size 60 second, advance by 5 second)
    WHERE request like '%html%'
    GROUP BY userid;

-- User sessions
CREATE TABLE CLICK_USER_SESSIONS AS
    SELECT
        username as K,
        AS_VALUE(username) as username,
        WINDOWEND as EVENT_TS,
        count(*) AS events
    FROM USER_CLICKSTREAM window SESSION (30 second)
    GROUP BY username;

-- Error codes per minute, alerting above 5
CREATE TABLE ERRORS_PER_MIN_ALERT AS
    SELECT
        status as k1,
        AS_VALUE(status) as status,
        WINDOWSTART as EVENT_TS,
        count(*) AS errors
    FROM clickstream window HOPPING (size 60 second, advance by 20 second)
    WHERE status > 400
    GROUP BY status
    HAVING count(*) > 5 AND count(*) is not NULL;

CREATE TABLE BANDWIDTH_PER_MIN AS 
    SELECT
        username as K,
        AS_VALUE(username) as username,
        WINDOWSTART AS EVENT_TS, 
        SUM(bytes) AS total_bytes
    FROM USER_CLICKSTREAM 
    WINDOW TUMBLING (size 60 second)
    GROUP BY username; 

CREATE TABLE USER_SESSION_BANDWIDTH AS
    SELECT 
        username as K,
        AS_VALUE(username) as username,
        WINDOWSTART as EVENT_TS,
        SUM(bytes) AS total_bytes
    FROM USER_CLICKSTREAM
    WINDOW SESSION (30 second)
    GROUP BY username;

CREATE table ERRORS_PER_MIN AS
    SELECT
        status as k1,
        AS_VALUE(status) as status,
        WINDOWSTART as EVENT_TS,
        count(*) as errors
    FROM clickstream window HOPPING (size 60 second, advance by 5  second)
    WHERE status > 400
    GROUP BY status;

-- Enriched error codes per 30 seconds
CREATE TABLE ENRICHED_ERROR_CODES_COUNT
    WITH (key_format='json')
    AS
    SELECT
        code as k1,
        definition as K2,
        AS_VALUE(code) as code,
        WINDOWSTART as EVENT_TS,
        AS_VALUE(definition) as definition,
        count(*) as count
    FROM ENRICHED_ERROR_CODES
    WINDOW TUMBLING (size 30 second)
    GROUP BY code, definition
    HAVING count(*) > 1;

-- User IP activity
CREATE TABLE USER_IP_ACTIVITY
    WITH (key_format='json')
    AS
    SELECT
        username as k1,
        ip as k2,
        city as k3,
        AS_VALUE(username) as username,
        WINDOWSTART as EVENT_TS,
        AS_VALUE(ip) as ip,
        AS_VALUE(city) as city,
        COUNT(*) AS count
    FROM USER_CLICKSTREAM
    WINDOW TUMBLING (SIZE 60 second)
    GROUP BY username, ip, city
    HAVING COUNT(*) > 1;
