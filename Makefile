# The two commands of the README: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := data/raw/demo
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1

.PHONY: run test lint install spark-deps spark-test clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH (or make PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The spark extra (dbt-spark, pyspark) for --engine spark; `make test` installs it too and runs
# the two-engine equality test (tests/python/sql/test_spark_parity.py) with the rest; `make
# spark-test` runs it alone. Needs Java 17.
SPARK_STAMP := $(VENV)/.installed-spark
$(SPARK_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(SPARK_STAMP)

spark-deps: $(SPARK_STAMP)

spark-test: $(SPARK_STAMP)
	$(BIN)/pytest -q tests/python/sql/test_spark_parity.py

# The nightly job end to end on the demo export (generated when missing), then a summary.
run: $(STAMP)
	@test -f $(DEMO_DIR)/tracks.jsonl || $(BIN)/skipcache generate --preset demo --out $(DEMO_DIR) --seed 7
	$(BIN)/skipcache nightly --raw-dir $(DEMO_DIR) --warehouse warehouse/skipcache.duckdb

lint: $(STAMP)
	$(BIN)/ruff check scoring tests
	$(BIN)/ruff format --check scoring tests
	mkdir -p build && SKIPCACHE_WAREHOUSE=build/lint.duckdb $(BIN)/sqlfluff lint models_sql tests/dbt analyses

# Lint, `dbt build` (as an analyst runs it) on generated dirty test data, then pytest.
TEST_DATA := build/test-data
test: $(STAMP) $(SPARK_STAMP) lint
	rm -rf $(TEST_DATA) && mkdir -p $(TEST_DATA)
	$(BIN)/skipcache generate --preset tiny --dirty --out $(TEST_DATA)/raw --seed 11
	SKIPCACHE_WAREHOUSE=$(TEST_DATA)/skipcache.duckdb $(BIN)/dbt build --quiet \
		--project-dir . --profiles-dir . --target-path $(TEST_DATA)/target --log-path $(TEST_DATA)/logs \
		--vars '{"raw_dir": "$(TEST_DATA)/raw"}'
	$(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

clean:
	rm -rf $(VENV) target logs
