#!/usr/bin/env bash
# Make sure the databases the tests use are up: MariaDB on 127.0.0.1:3306 (root, no password) and
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust). Running servers are left alone.
# As root on Debian, a missing server is installed (apt-get) and started; otherwise this says what is missing.
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

status=0
for db in mariadb postgres; do
    if ${db}_up; then
        echo "services: $db is up"
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
    fi
done
exit $status
