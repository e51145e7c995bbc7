# Two commands: `make demo` and `make test`. Both create .venv and install the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# constraints.txt pins torch's version (not in pyproject), not its build: pip keeps any build of that version
# already in $(VENV) (e.g. the CPU wheel from download.pytorch.org/whl/cpu, see the README); point
# CONSTRAINTS= at your own file for another torch version.
CONSTRAINTS ?= constraints.txt
STAMP := $(VENV)/.installed
DEMO_DATA ?= data/synthetic
GENRE_DATA ?= data/synthetic_genres
DEMO_OUT ?= outputs/demo

.PHONY: install demo test test-slow test-gpu lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "Installing a2a with its dev extras into $(VENV): torch, pytorch-lightning, bittensor, librosa, ..."
	@echo "(about 2.5 GB with the CPU torch wheel; 2-5 minutes on a first install, silent until pip is done)"
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	@touch $(STAMP)
	@echo "Installed into $(VENV); edit pyproject.toml or delete $(STAMP) to reinstall."

install: $(STAMP)

# Every run trains and evaluates a fresh model: the previous demo's run directories are removed first
# (train.py refuses a folder that already holds checkpoints rather than adding last-v1.ckpt beside them).
demo: $(STAMP)
	$(BIN)/a2a data synth $(DEMO_DATA) --sequences 12 --seconds 8 --seed 0
	rm -rf $(DEMO_OUT)/train $(DEMO_OUT)/evaluate
	$(BIN)/python train.py experiment=demo data.source=$(DEMO_DATA) hydra.run.dir=$(DEMO_OUT)/train
	$(BIN)/python evaluate.py ckpt=$(DEMO_OUT)/train/checkpoints/last.ckpt data.source=$(DEMO_DATA) \
		samples=[1,4] sweep=[posterior_mean,ddim_2,ddim_5,ddim_20,ddim_50] hydra.run.dir=$(DEMO_OUT)/evaluate
	experiments/genre_demo.sh $(GENRE_DATA) $(DEMO_OUT)/genre $(BIN)/python
	@echo "demo done: report in $(DEMO_OUT)/evaluate/report.md, renders in $(DEMO_OUT)/evaluate/renders/,"
	@echo "two genres for the same music in $(DEMO_OUT)/genre/two_genres.mp4"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-gpu: $(STAMP)
	$(BIN)/python -m pytest -q -m gpu

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
