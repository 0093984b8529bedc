# Overheard: `make demo` runs one collection cycle on the bundled sample corpus through Airflow;
# `make test` type-checks the code (mypy, set up in pyproject.toml) and runs the test suite.
# Both create .venv and .airflow on first use and reuse them after.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
CONFIG ?= config/example.yaml

export OVERHEARD_HOME := $(CURDIR)
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW_CONFIG := $(CURDIR)/airflow.cfg

.PHONY: demo test test-distributed run standalone desk bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $@

$(AIRFLOW_HOME)/.initialised: $(VENV)/.installed airflow.cfg
	$(BIN)/python -m cli.main airflow-init
	touch $@

demo: $(AIRFLOW_HOME)/.initialised
	$(BIN)/python -m demo

run: $(AIRFLOW_HOME)/.initialised
	$(BIN)/overheard run --config $(CONFIG)

desk: $(AIRFLOW_HOME)/.initialised
	$(BIN)/overheard desk --config config/demo.yaml

standalone: $(AIRFLOW_HOME)/.initialised
	$(BIN)/overheard airflow standalone

test: $(VENV)/.installed
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The Celery deployment (deploy/celery_deployment.py: PostgreSQL, Redis, an S3 server, Airflow's scheduler,
# DAG processor, API server and two workers) under test (tests/distributed/): the tests start it (staging on
# S3, scheduled runs off) and stop it at the end. `make test` leaves these tests out (pytest marker).
test-distributed: $(VENV)/.installed
	$(BIN)/python deploy/celery_deployment.py install
	$(CURDIR)/var/deploy/venv/bin/python -m pytest -m distributed tests/distributed -s

bench: $(VENV)/.installed
	$(BIN)/python bench/upsert_mentions.py
	$(BIN)/python bench/feed_polling.py
	$(BIN)/python bench/query_throughput.py
	$(BIN)/python bench/enrichment_throughput.py
	$(BIN)/python bench/sentiment_accuracy.py ../shared/data/sentiment/val.tsv --backend lexicon
	$(BIN)/python bench/sentiment_accuracy.py ../shared/data/sentiment/val.tsv --backend auto
	$(BIN)/python bench/sentiment_speed.py
	$(BIN)/python bench/brand_sentiment_accuracy.py --backend auto
	$(BIN)/python bench/stories_throughput.py
	$(BIN)/python bench/spike_backtest.py
	$(BIN)/python bench/staffing_forecast.py
	$(BIN)/python bench/snapshot_publish.py
	$(BIN)/python bench/report_render.py
	$(BIN)/python bench/desk_latency.py
	$(BIN)/python bench/themes_quality.py
	$(BIN)/python bench/themes_speed.py
	$(BIN)/python bench/cycle_cost.py
	$(BIN)/python bench/post_to_queue_latency.py
	$(BIN)/python bench/platform_collect_cost.py
	$(BIN)/python bench/jetstream_matching.py
	$(BIN)/python bench/coverage_ledger.py

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) var
