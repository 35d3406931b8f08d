# Two commands: `make demo` (set up and run the demo) and `make test` (set up and run every test).
# Both create .venv when it is missing and install what the project needs into it; `test` first makes sure
# MariaDB and PostgreSQL answer on 127.0.0.1 (scripts/services.sh installs and starts them when run as root).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.headwater-installed

.PHONY: demo demo-memory test test-lowest bench chaos fuzz soak clean

# The long profiles of issue 12's reliability suites (short ones run inside `make test`).
CHAOS_CYCLES ?= 100
OUTAGE_S ?= 60
FUZZ_INPUTS ?= 1000000
MINUTES ?= 60

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/headwater demo

test: $(STAMP)
	@bash scripts/services.sh || echo "make test: database tests will be skipped (failed under CI=true)"
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "make test: no chromium: the browser tests (tests/ui, the browser attack test) will be skipped (failed under CI=true)"
	$(PY) -m pytest -q -p no:cacheprovider

# The suite on the lowest versions pyproject.toml allows (constraints/lowest.txt), in its own venv.
test-lowest:
	@test -x .venv-lowest/bin/python || $(PYTHON) -m venv .venv-lowest
	.venv-lowest/bin/python -m pip install --quiet -c constraints/lowest.txt -e '.[test]'
	.venv-lowest/bin/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m bench.log_throughput
	$(PY) -m bench.sql_stateless
	$(PY) -m bench.sql_windows
	$(PY) -m bench.sql_joins
	$(PY) -m bench.formats_json
	$(PY) -m bench.formats_json_doubles
	$(PY) -m bench.formats_avro
	$(PY) -m bench.s3_sink
	$(PY) -m bench.connectors
	$(PY) -m bench.connect_file
	$(PY) -m bench.collector_load
	$(PY) -m bench.restore
	$(PY) -m bench.log_fencing
	$(PY) -m bench.server_memory
	@bash scripts/services.sh >/dev/null && $(PY) -m bench.cdc_throughput || echo "make bench: cdc_throughput needs the local MariaDB and PostgreSQL"

# `headwater demo` (every app and its generators) for MINUTES=10, the server's memory sampled every 30 s.
demo-memory: $(STAMP)
	$(PY) -m bench.demo_memory --minutes $(or $(DEMO_MINUTES),10)

# kill -9 cycles under Segment load (SQLite, MariaDB and PostgreSQL sinks) and a JDBC sink's database outage.
chaos: $(STAMP)
	@bash scripts/services.sh || echo "make chaos: the MariaDB/PostgreSQL variants will be skipped"
	CHAOS_CYCLES=$(CHAOS_CYCLES) OUTAGE_S=$(OUTAGE_S) $(PY) -m pytest -q -p no:cacheprovider -m "slow or not slow" tests/chaos

# hypothesis: parser, decoders, collector, ksqlDB REST, Connect and topic APIs, one process per target.
fuzz: $(STAMP)
	FUZZ_INPUTS=$(FUZZ_INPUTS) $(PY) -m tests.fuzz.parallel

# The clickstream statements at a steady rate; memory and latency each minute.
soak: $(STAMP)
	$(PY) -m bench.soak --minutes $(MINUTES)

clean:
	rm -rf $(VENV) .venv-lowest headwater-data build *.egg-info
