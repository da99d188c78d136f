.PHONY: run test lint
run:   ## Siyu on the embedded default with demo data, on http://127.0.0.1:8000
	bin/run
test:  ## the test suite
	bin/test
lint:
	.venv/bin/ruff check .
