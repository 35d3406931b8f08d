"""Change data capture sources in Debezium's shape: PostgreSQL, MariaDB/MySQL, MongoDB."""
