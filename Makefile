# One command sets up and runs the demo (`make demo`), one runs the tests (`make test`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export SYNTH_PIPELINES_HOME := $(CURDIR)/.synth

.PHONY: install demo test dev bench bench-tables bench-peers-venv lock clean

install: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

# The venv is rebuilt from the hashed lock whenever the lock or the package metadata changes.
$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, found {sys.version.split()[0]}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every process would
	# otherwise compile Dagster, pandas and torch from source (an import of dagster: 12 s instead of 4.5 s).
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

# The local instance file follows the shipped one whenever that changes (run monitoring, queue).
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $@

# Exit 5 (README: exit codes): today's demo release exists already; for a demo that is done, not an error.
demo: install
	$(BIN)/synth-pipelines demo || test $$? -eq 5

test: install
	$(BIN)/python -m pytest

# Benchmarks (BENCHMARKS.md): Adult per generator, Berka relational (needs PostgreSQL), 10k-1M rows.
bench: install
	$(BIN)/python bench/bench_adult.py
	$(BIN)/python bench/bench_berka.py
	$(BIN)/python bench/bench_scale.py

# Cross-table benchmark (BENCHMARKS.md): the default spec on Adult, Berka and the six suite tables beside
# TabularARGN and GaussianCopula, all scored by the same referees. The peers and referees live in their
# own venv (bench/.peers-venv); the tests never need it. BENCH_TABLES_ARGS e.g. "--seeds 1 --tables adult".
PEERS_VENV := bench/.peers-venv
# torch's CPU build: on this workplace's machines `torch==2.13.0` resolves to the CPU wheel on disk;
# elsewhere add the CPU wheel index of your mirror here (PEERS_TORCH="torch==2.13.0 --index-url ...").
PEERS_TORCH ?= torch==2.13.0
BENCH_TABLES_ARGS ?= --seeds 3 --argn-minutes 2

bench-peers-venv: $(PEERS_VENV)/.installed

$(PEERS_VENV)/.installed: bench/peers-requirements.txt
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet $(PEERS_TORCH)
	$(PEERS_VENV)/bin/python -m pip install --quiet -r bench/peers-requirements.txt
	# mostlyai-engine pulls torchvision/torchaudio wheels built for another torch; the tabular model
	# needs neither, and their broken imports would break transformers' (and so the engine's) imports.
	$(PEERS_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio
	$(PEERS_VENV)/bin/python -c 'import torch; assert torch.version.cuda is None, f"a CUDA torch was installed: {torch.__version__}"'
	touch $@

bench-tables: install bench-peers-venv
	PYTHONPATH=. OMP_NUM_THREADS=2 $(BIN)/python bench/bench_tables.py $(BENCH_TABLES_ARGS)
	$(BIN)/python bench/tables_report.py .bench/tables/results.jsonl

# The QA reports the UI's check results link to: served read-only on 127.0.0.1 beside the UI
# (`synth-pipelines reports serve`); runs of `make demo` and `make dev` link them at this address.
REPORTS_PORT ?= 3001
demo dev: export SYNTH_PIPELINES_REPORTS_URL ?= http://127.0.0.1:$(REPORTS_PORT)

# The UI through dg (pyproject's [tool.dg]): the defs folder's datasets and any plain spec in assets/datasets.
# The report server runs while dg dev does and stops with it (the explicit exit: sh would exec dg dev as its
# last command, and the trap would never run).
dev: install
	$(BIN)/synth-pipelines demo-db
	$(BIN)/synth-pipelines reports serve --port $(REPORTS_PORT) & reports=$$!; \
	trap 'kill $$reports 2>/dev/null' EXIT INT TERM; $(BIN)/dg dev; status=$$?; exit $$status

lock:
	$(BIN)/uv pip compile requirements.in --python-platform x86_64-manylinux_2_28 --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) .synth .dagster_home
