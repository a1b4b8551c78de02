"""`make bench`: the figures that prove the design, measured in one bounded run on loopback (see bench/run.py)."""
