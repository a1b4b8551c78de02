"""Loopback helpers shared by tests/ and bench/ (never shipped: the Lambda package is app.py and chalicelib).

loopback.py    threaded HTTP servers on 127.0.0.1 (the LLM stub, the fault proxy, bench's stats)
llm_stub.py    the one OpenAI-compatible stub: scripted replies for tests, an automatic answer for bench
instrument.py  per-request round trips and time through botocore's event hooks
"""
