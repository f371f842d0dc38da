# digitseg's shared command list. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
INPUT ?= docs/examples
OUTPUT ?= output/segmented
CKPT ?= models/digit_segmenter.ckpt
HPARAMS ?= unet_optuna
# The paths.* overrides among ARGS: `make mnist` prepares MNIST in the folder the run reads.
PATHS_ARGS = $(filter paths.% +paths.% ++paths.%,$(ARGS))
# The tests read MNIST where runs do (tests/conftest.py): `make mnist` first; where it cannot
# (offline, nothing cached) the tests that need MNIST are skipped and the rest run.
TEST_MNIST = $(MAKE) --no-print-directory mnist || echo "no MNIST: the tests that need it are skipped" >&2

.DEFAULT_GOAL := help

help: ## List the targets
	@if [ -t 1 ]; then colour='\033[36m' plain='\033[0m'; fi; \
	grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk -v colour="$$colour" -v plain="$$plain" 'BEGIN {FS = ":.*?## "}; \
			{printf "  %s%-17s%s %s\n", colour, $$1, plain, $$2}'

$(STAMP): pyproject.toml
	@free_gb=$$(df -Pk . | awk 'NR == 2 {print int($$4 / 1048576)}'); \
	if [ "$$free_gb" -lt 7 ]; then echo "warning: $$free_gb GB free here; .venv takes about 6 GB" \
		"(PyTorch's CUDA build on x86_64): free some disk if pip fails with 'No space left'" >&2; fi
	@test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)  # a venv cut off before pip: anew
	$(BIN)/pip install -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv (plain pip) and install digitseg with its dev tools

mnist: $(STAMP) ## Find, fetch or build MNIST where runs read it (paths.mnist_dir, else data/mnist/), verify it
	$(BIN)/digitseg-mnist $(PATHS_ARGS)

data: mnist ## Write each preset's fixed val/test canvases to data/generated/ (ARGS=overrides)
	$(BIN)/digitseg-generate -m data=m2nist,canvas,numbers split=val,test $(ARGS)

train: mnist ## Train (Hydra overrides in ARGS="model=fcn8 trainer.max_epochs=3")
	$(BIN)/digitseg-train $(ARGS)

finetune: mnist ## Fine-tune the shipped segmenter on labelled scans (ARGS="scans.folder=my/images scans.annotations=my/coco.json")
	$(BIN)/digitseg-train experiment=finetune_scans $(ARGS)

train-classifier: mnist ## Train the digit classifier that reads each found digit again (ARGS=overrides)
	$(BIN)/digitseg-train-classifier $(ARGS)

sweep: mnist ## Multirun sweep: make sweep [HPARAMS=unet_optuna|seeds] [ARGS="hydra.sweeper.n_trials=40"]
	$(BIN)/digitseg-train -m hparams_search=$(HPARAMS) $(ARGS)

sweep-slurm: mnist ## The same sweep as a SLURM job array, one GPU per job (conf/hydra/launcher/slurm.yaml)
	$(BIN)/digitseg-train -m hparams_search=$(HPARAMS) hydra/launcher=slurm trainer=gpu resume=auto $(ARGS)

segment: $(STAMP) ## Crops per digit (INPUT=docs/examples OUTPUT=output/segmented ARGS=...)
	$(BIN)/digitseg-segment --input_dir $(INPUT) --output_dir $(OUTPUT) $(ARGS)

eval: $(STAMP) ## Evaluate a model file: make eval CKPT=models/digit_segmenter.ckpt [ARGS="data=numbers"]
	$(BIN)/digitseg-eval checkpoint=$(CKPT) $(ARGS)

wandb-sync: $(STAMP) ## Upload offline W&B runs (needs `wandb login`)
	@runs=$$(find outputs -type d -name 'offline-run-*' 2>/dev/null); \
	if [ -z "$$runs" ]; then echo "no offline W&B runs under outputs/"; \
	else $(BIN)/wandb sync $$runs; fi

test: $(STAMP) ## Run the test suite (slow tests excluded) on MNIST prepared as for make train
	@$(TEST_MNIST)
	$(BIN)/python -m pytest $(ARGS)

test-full: $(STAMP) ## Run every test, slow ones included
	@$(TEST_MNIST)
	$(BIN)/python -m pytest -m "slow or not slow" $(ARGS)

lint: $(STAMP) ## Check code and notebooks with ruff
	$(BIN)/ruff check src tests scripts notebooks
	$(BIN)/ruff format --check src tests scripts notebooks

format: $(STAMP) ## Format code and notebooks with ruff
	$(BIN)/ruff check --fix src tests scripts notebooks
	$(BIN)/ruff format src tests scripts notebooks

benchmark: $(STAMP) ## Print generator speed (canvases/s per preset)
	$(BIN)/python scripts/benchmark_generator.py $(ARGS)

clean: ## Remove caches and run outputs (keeps .venv, data/ and models/)
	rm -rf outputs multirun .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +


.PHONY: help setup mnist data train finetune train-classifier sweep sweep-slurm segment eval wandb-sync test test-full lint format benchmark clean
