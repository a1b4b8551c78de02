"""The black-box journey against the running compose stack (run by compose/run.py, not by `make test`)."""
