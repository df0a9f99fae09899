# Two commands a newcomer needs: `make demo` and `make test`. Everything else is here for the team.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint pytest soak-ci demo screenshots proto bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check falcotui tests bench

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint pytest

# The CI run N times in a fresh clone of HEAD (../shared beside it): `make soak-ci N=5` before calling work
# done. Prints each run's wall time and counts; fails if any run failed. BURN=1 adds a CPU burner.
N ?= 5
soak-ci:
	bash .ci/soak $(N)

demo: $(STAMP)
	$(BIN)/falcotui --demo

# The TUI's SVG screenshots, then the incident report rendered by chromium (PNG; needs chromium on PATH,
# ~7 minutes: the demo incident runs for six). Tests never need a browser for the report.
screenshots: $(STAMP)
	$(BIN)/python -m falcotui.cli.screenshots screenshots
	$(BIN)/python -m falcotui.cli.report_screenshots screenshots

# Include root is the repo so the generated code imports `from falcotui.falco.grpc import schema_pb2`.
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I. \
		--python_out=. --grpc_python_out=. --pyi_out=. \
		falcotui/falco/grpc/schema.proto falcotui/falco/grpc/outputs.proto falcotui/falco/grpc/version.proto

bench: $(STAMP)
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
