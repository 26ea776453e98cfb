# StreamPro: the two commands a newcomer needs.
#   make run   set up, then run the main job end to end (`dvc repro` of the embedded default)
#   make test  set up, then run the test suite
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run test lock clean help images ablate learn
help:
	@echo "make run   - set up .venv and run the pipeline end to end (dvc repro)"
	@echo "make test  - set up .venv and run the tests"
	@echo "make ablate - the paper's ablations (CE / focal / CB-Stream SFT, SFT->GRPO) over 3 seeds: reports/ablation.md"
	@echo "make learn - the DAG with profiles/learn.yaml (a longer CPU run) into data/learn, reports/learn"
	@echo "make lock  - regenerate requirements.lock from the current .venv"
	@echo "make images - build and push the CPU and GPU images, tagged as params.yaml orchestration says"

setup:
	@VENV=$(VENV) scripts/setup.sh

run: setup
	STREAMPRO_TIMINGS=$(CURDIR)/reports/step_times.json dvc repro
	@python -c "from streampro.bench.report import update_readme; update_readme('README.md', 'reports/metrics.json', 'reports/step_times.json')"
	@echo; cat reports/report.md; echo "(also reports/report.html, dvc metrics show, dvc plots show)"

# The paper's ablations on the world of `make run` (built first when missing): resumable, ~45 min on 2 cores (43 and 45 min measured).
# ABLATE_PROFILE=profiles/ci.yaml for a quick one-seed pass.
ablate: setup
	dvc repro slice
	streampro ablate --trajectories data/sliced --items data/synth/items/bench.jsonl --rl-items data/rubrics/rl.jsonl \
	  --out data/ablation --report reports $(if $(ABLATE_PROFILE),--profile $(ABLATE_PROFILE))
	@python -c "from streampro.bench.report import update_readme; update_readme('README.md', 'reports/metrics.json')"
	@cat reports/ablation.md

# The DAG under profiles/learn.yaml (more data and steps; <= 60 min on 2 cores), beside the default run's results.
learn: setup
	python scripts/run_profile.py profiles/learn.yaml --name learn
	@python -c "from streampro.bench.report import update_readme; update_readme('README.md', 'reports/metrics.json')"
	@cat reports/learn/report.md

test: setup
	python -m pytest $(PYTEST_ARGS)

lock:
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf data .pytest_cache

# The Kubeflow images, tagged as params.yaml `orchestration.cpu_image` / `gpu_image` say (needs Docker and a
# registry login, e.g. `gcloud auth configure-docker REGION-docker.pkg.dev`). `make -n images` shows the commands.
image = $(shell $(BIN)/python -c "from streampro.config import load_params; print(load_params('params.yaml').orchestration.$(1))")
images:
	docker build -f docker/cpu.Dockerfile -t $(call image,cpu_image) .
	docker build -f docker/gpu.Dockerfile -t $(call image,gpu_image) .
	docker push $(call image,cpu_image)
	docker push $(call image,gpu_image)
