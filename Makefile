# StreamPro: the two commands a newcomer needs.
#   make run   set up, then run the main job end to end (`dvc repro` of the embedded default)
#   make test  set up, then run the test suite
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run test lock clean help
help:
	@echo "make run   - set up .venv and run the pipeline end to end (dvc repro)"
	@echo "make test  - set up .venv and run the tests"
	@echo "make lock  - regenerate requirements.lock from the current .venv"

setup:
	@VENV=$(VENV) scripts/setup.sh

run: setup
	dvc repro
	@echo; cat reports/report.md; echo "(also reports/report.html, dvc metrics show, dvc plots show)"

test: setup
	python -m pytest $(PYTEST_ARGS)

lock:
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf data .pytest_cache
