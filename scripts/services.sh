#!/usr/bin/env bash
# Make sure the databases the tests use are up: MariaDB on 127.0.0.1:3306 (root, no password) and
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust). Running servers are left alone.
# As root on Debian, a missing server is installed (apt-get) and started; otherwise this says what is missing.
# Both are then set up for change data capture (headwater/connect/cdc/): PostgreSQL with wal_level=logical and
# replication connections trusted on 127.0.0.1; MariaDB with the binlog in ROW format with full row metadata. A server
# that lacks a setting is restarted once (as root); a server already set up is left alone (idempotent).
# Exit status: 0 when both answer; 1 when one does not (make test goes on: the tests skip, or fail under CI=true).
set -u

mariadb_up() { mysql --protocol=TCP -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }
postgres_up() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_updated=
apt_install() {
    [ -n "$apt_updated" ] || { apt-get update -qq && apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_mariadb() {
    command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || apt_install mariadb-server mariadb-client
    service mariadb start >/dev/null 2>&1 || service mysql start >/dev/null 2>&1 || {
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
        (mysqld_safe --bind-address=127.0.0.1 >/dev/null 2>&1 &)
    }
    for _ in $(seq 30); do mysql -u root -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
    # Debian's root logs in through the unix socket only; the tests connect over TCP without a password.
    mysql -u root -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;" 2>/dev/null
}

start_postgres() {
    command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql postgresql-client
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    if [ -z "$version" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -1)
        pg_createcluster "$version" main >/dev/null
    fi
    hba=/etc/postgresql/$version/main/pg_hba.conf
    # Trust on 127.0.0.1 and ::1 first, so the tests connect as postgres without a password.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main reload
    for _ in $(seq 30); do postgres_up && break; sleep 1; done
}

mariadb_sql() { mysql --protocol=TCP -h 127.0.0.1 -P 3306 -u root -N -B -e "$1" 2>/dev/null; }
postgres_sql() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atc "$1" 2>/dev/null; }

# The binlog as Debezium's MySQL connector needs it: ROW events with every column and the column names.
cdc_mariadb() {
    want="1 ROW FULL FULL"
    have=$(mariadb_sql 'SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata' | tr '\t' ' ')
    [ "$have" = "$want" ] && { echo "services: mariadb binlog is ROW with full row metadata"; return 0; }
    is_root || { echo "services: MariaDB lacks the CDC binlog settings (have '$have'); run this script as root" >&2; return 1; }
    confdir=/etc/mysql/mariadb.conf.d
    mkdir -p "$confdir"
    grep -qs "^!includedir $confdir" /etc/mysql/my.cnf || printf '\n!includedir %s/\n' "$confdir" >>/etc/mysql/my.cnf
    cat >"$confdir/90-headwater-cdc.cnf" <<'CNF'
# Written by Headwater's scripts/services.sh: the binlog for change data capture.
[mysqld]
server_id = 1
log_bin = mariadb-bin
binlog_format = ROW
binlog_row_image = FULL
binlog_row_metadata = FULL
binlog_expire_logs_seconds = 172800
CNF
    echo "services: restarting MariaDB with the binlog in ROW format (was '$have')"
    pid=$(cat /run/mysqld/mysqld.pid 2>/dev/null)
    mysqladmin --protocol=TCP -h 127.0.0.1 -P 3306 -u root shutdown >/dev/null 2>&1
    for _ in $(seq 120); do
        if [ -n "$pid" ]; then kill -0 "$pid" 2>/dev/null || break; else mariadb_up || break; fi
        sleep 0.5
    done
    service mariadb start >/dev/null 2>&1 ||
        start-stop-daemon --start --oknodo --background --exec "$(command -v mariadbd || command -v mysqld)"
    for _ in $(seq 60); do mariadb_up && break; sleep 0.5; done
    have=$(mariadb_sql 'SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata' | tr '\t' ' ')
    [ "$have" = "$want" ] || { echo "services: MariaDB binlog settings did not apply (have '$have')" >&2; return 1; }
}

# Logical decoding (pgoutput) for Debezium's PostgreSQL connector, and replication connections on 127.0.0.1.
cdc_postgres() {
    if [ "$(postgres_sql 'SHOW wal_level')" = logical ] &&
        psql "host=127.0.0.1 port=5432 user=postgres dbname=postgres replication=database" -Atc 'IDENTIFY_SYSTEM' >/dev/null 2>&1; then
        echo "services: postgres wal_level is logical"
        return 0
    fi
    is_root || { echo "services: PostgreSQL lacks wal_level=logical or replication access; run this script as root" >&2; return 1; }
    version=$(ls /etc/postgresql | sort -V | tail -1)
    conf=/etc/postgresql/$version/main
    mkdir -p "$conf/conf.d"
    grep -qs "^include_dir = 'conf.d'" "$conf/postgresql.conf" || echo "include_dir = 'conf.d'" >>"$conf/postgresql.conf"
    cat >"$conf/conf.d/90-headwater-cdc.conf" <<'CONF'
# Written by Headwater's scripts/services.sh: logical decoding for change data capture.
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
CONF
    grep -q '^host replication all 127.0.0.1/32 trust' "$conf/pg_hba.conf" ||
        sed -i '1i host replication all 127.0.0.1/32 trust\nhost replication all ::1/128 trust' "$conf/pg_hba.conf"
    echo "services: restarting PostgreSQL with wal_level=logical"
    pg_ctlcluster --skip-systemctl-redirect "$version" main restart >/dev/null 2>&1 || pg_ctlcluster "$version" main restart
    for _ in $(seq 60); do postgres_up && break; sleep 0.5; done
    [ "$(postgres_sql 'SHOW wal_level')" = logical ] || { echo "services: PostgreSQL wal_level did not become logical" >&2; return 1; }
}

status=0
for db in mariadb postgres; do
    if ${db}_up; then
        echo "services: $db is up"
        cdc_$db || status=1
        continue
    fi
    if is_root && command -v apt-get >/dev/null 2>&1; then
        echo "services: $db is not reachable; installing/starting it"
        start_$db
    fi
    if ${db}_up; then
        echo "services: $db is up"
    else
        status=1
        case $db in
            mariadb) echo "services: MariaDB is missing: need a server on 127.0.0.1:3306 with user root and no password (as root: apt-get install mariadb-server, or run this script as root)" >&2 ;;
            postgres) echo "services: PostgreSQL is missing: need a server on 127.0.0.1:5432 with user postgres and trust auth (as root: apt-get install postgresql, or run this script as root)" >&2 ;;
        esac
        continue
    fi
    cdc_$db || status=1
done
exit $status
