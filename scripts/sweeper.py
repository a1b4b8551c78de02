"""Run the hold sweeper locally every few seconds, as the cloud's schedule runs it every minute.

`make run` (scripts/local_stack.py) starts this next to `chalice local`: unpaid orders whose hold
has lapsed (`ORDER_HOLD_SECONDS`) are expired and their units go back on sale, through the same
code the scheduled function runs (`chalicelib.payments.sweep_lapsed_holds`).

    python -m scripts.sweeper   # with the stack's environment (scripts.local_stack.stack_env)
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from chalicelib import payments

DEFAULT_INTERVAL_SECONDS = 5.0


def run(interval: float, stop: threading.Event) -> None:
    print(f"Sweeping lapsed holds every {interval:g} s", flush=True)
    while not stop.is_set():
        try:
            expired = payments.sweep_lapsed_holds()
            if expired:
                print(f"expired {expired} lapsed hold(s)", flush=True)
        except Exception:  # a failed pass is logged and the next one tries again, as Lambda would
            logging.exception("Sweep failed")
        stop.wait(interval)


def main() -> None:
    stop = threading.Event()

    def stop_sweeping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_sweeping)
    signal.signal(signal.SIGINT, stop_sweeping)
    run(float(os.environ.get("SWEEP_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS)), stop)


if __name__ == "__main__":
    main()
