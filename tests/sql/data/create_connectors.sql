-- The clickstream demo's create-connectors.sql, run with RUN SCRIPT from the ksqlDB CLI.
-- Reconstructed from shared/reference/ksqldb-connect-cdc.md 5.1 in the upstream file's layout.

-- Clickstream codes
CREATE SOURCE CONNECTOR datagen_clickstream_codes WITH (
    'connector.class'          = 'io.confluent.kafka.connect.datagen.DatagenConnector',
    'kafka.topic'              = 'clickstream_codes',
    'quickstart'               = 'clickstream_codes',
    'maxInterval'              = '20',
    'iterations'               = '100',
    'format'                   = 'json',
    'key.converter'            = 'org.apache.kafka.connect.converters.IntegerConverter');

-- Clickstream users
CREATE SOURCE CONNECTOR datagen_clickstream_users WITH (
    'connector.class'          = 'io.confluent.kafka.connect.datagen.DatagenConnector',
    'kafka.topic'              = 'clickstream_users',
    'quickstart'               = 'clickstream_users',
    'maxInterval'              = '10',
    'iterations'               = '1000',
    'format'                   = 'json',
    'key.converter'            = 'org.apache.kafka.connect.converters.IntegerConverter');

-- Clickstream
CREATE SOURCE CONNECTOR datagen_clickstream WITH (
    'connector.class'          = 'io.confluent.kafka.connect.datagen.DatagenConnector',
    'kafka.topic'              = 'clickstream',
    'quickstart'               = 'clickstream',
    'maxInterval'              = '30',
    'iterations'               = '10000000',
    'format'                   = 'json');
