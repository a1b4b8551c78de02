"""`make test-compose`: the compose stack built and run for real (see compose/run.py)."""
