# journeylib: `make report` and `make test` work as the very first command on a
# machine with Python 3.11+ and make (they create .venv and install the kit).
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REPORTS ?= reports
JOBS ?= 2
JOURNEY ?= sample
# setuptools announces every editable install as a warning ("Editable installation ... be careful
# with folders named like the package"); that one notice is silenced, every other warning still shows.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

.PHONY: help install report test test-slow test-spark lab docs data bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required (found $$($(PYTHON) --version)); set PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name journeylib --display-name "Python (journeylib)" > /dev/null
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the kit (done automatically by the other targets)

report: $(STAMP) ## render every notebook to HTML (JOURNEY=path/journey.yml; default the bundled sample) into reports/latest/
	$(BIN)/journeylib run-all --output-dir $(REPORTS) --journey $(JOURNEY) --jobs $(JOBS)

test: $(STAMP) ## run the test suite (without the slow notebook runs and the Spark parity tests)
	$(BIN)/python -m pytest -q -n $(JOBS) -m "not spark and not slow"

test-slow: $(STAMP) ## run the slow tests: every notebook on export shapes, small and hostile data, in a browser
	$(BIN)/python -m pytest -q -n $(JOBS) -m "slow and not spark"

test-spark: $(STAMP) ## run the Spark parity tests (installs pyspark; needs Java 17)
	$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e '.[spark]'
	$(BIN)/python -m pytest -q -m spark tests/spark

lab: $(STAMP) ## open JupyterLab with the kit's kernel
	$(BIN)/jupyter lab notebooks/

DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs']))" | xargs $(BIN)/python -m pip install --quiet
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP) ## build the documentation site into site/ (installs the docs extra once; offline after that)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

data: $(STAMP) ## regenerate the bundled sample data and the CDNOW event CSV
	$(BIN)/journeylib simulate --customers 5000 --seed 42 --channel-holdout email --out data/sample --force
	$(BIN)/python data/cdnow/make_events_csv.py

bench: $(STAMP) ## run the benchmarks (writes bench/RESULTS*.md; takes minutes)
	$(BIN)/python -m bench
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean: ## remove reports and caches (keeps .venv)
	rm -rf $(REPORTS) .pytest_cache
