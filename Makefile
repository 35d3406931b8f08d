# Two commands: `make demo` (set up and run the demo) and `make test` (set up and run every test).
# Both create .venv when it is missing and install what the project needs into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.headwater-installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/headwater demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m bench.log_throughput
	$(PY) -m bench.sql_stateless
	$(PY) -m bench.sql_windows
	$(PY) -m bench.sql_joins
	$(PY) -m bench.formats_json

clean:
	rm -rf $(VENV) headwater-data build *.egg-info
