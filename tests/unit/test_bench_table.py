"""`make bench`'s table: one line per (label, value, target) row, each target marked met or missed."""

from __future__ import annotations

from typing import Any

from bench import run


def upsell_worth(**changes: Any) -> dict[str, Any]:
    """Section 11's figures: the simulation's truth, the stats route's, the uplift."""
    totals = {
        "carts_shown": "162",
        "carts_holdout": "38",
        "suggestions_added": "128",
        "orders_treated": "92",
        "orders_holdout": "19",
        "revenue_treated": "77941.19",
        "revenue_holdout": "12622.75",
        "upsell_revenue": "23887.66",
    }
    return {
        "tenant": "globex",
        "carts": 200,
        "holdout_percent": 20,
        "truth_totals": totals,
        "route_totals": dict(totals),
        "differences": [],
        "settled_after_s": 0.5,
        "upsell_get_p50_ms": 83.1,
        "aov": {"treated": 847.19, "holdout": 664.36, "difference": 182.83, "ci95": [-188.12, 553.79]},
        "conversion": {"treated": 0.5679, "holdout": 0.5, "difference": 0.0679, "ci95": [-0.102, 0.2364]},
    } | changes


def results(**changes: Any) -> dict[str, Any]:
    """A run's figures in the shape bench/run.py writes to bench/results.json."""
    split = {"total_ms": 20.0, "dynamodb_wait_ms": 12.0, "app_own_ms": 8.0, "app_to_dynamodb_ratio": 0.67}
    trips = {
        "dynamodb_round_trips": 3,
        "all_checkouts_identical": True,
        "dynamodb_calls": {"GetItem": 1, "BatchGetItem": 1, "TransactWriteItems": 1},
        "write_transactions": 1,
        "ssm_calls": {},
    }
    figures: dict[str, Any] = {
        "machine": {"cpus": 2, "python": "3.11.7", "load_before": 0.5, "load_after": 1.5},
        "elapsed_s": 90.0,
        "round_trips": {"upsell_off": trips, "serial_time_split": {**split, "app_to_dynamodb_ratio": 0.5}},
        "cold_start": {
            "ratio_cpu": 1.3,
            "ratio_wall": 1.4,
            "app_cpu_s": 0.52,
            "base_cpu_s": 0.4,
            "watched_modules_loaded": [],
            "pydantic_loaded": False,
        },
        "first_requests": {
            "first_product_list_s": 0.05,
            "first_cart_s": 0.03,
            "first_checkout_s": 0.06,
            "warm_checkout_s": 0.02,
            "botocore_sessions": 1,
        },
        "packaged_import": {
            "deployment.zip": {"as_shipped_cpu_s": 0.5, "zip_to_base_cpu": 1.25, "pyc_files_in_zip": 700},
            "payments.zip": {"as_shipped_cpu_s": 0.55, "zip_to_base_cpu": 1.4, "pyc_files_in_zip": 710},
        },
        "package": {"deployment.zip": {"zip_mb": 7.1}, "payments.zip": {"zip_mb": 7.4}},
        "load": {
            "shoppers": 20,
            "seconds": 30.0,
            "requests_per_s": 150.0,
            "checkouts_per_s": 40.0,
            "orders": 1200,
            "oversold_units": 0,
            "stock_consistent": True,
            "time_split": split,
            "routes": {
                "POST /carts/{id}/checkout": {
                    "per_s": 40.0,
                    "p50_ms": 20,
                    "p95_ms": 40,
                    "p99_ms": 60,
                    "statuses": {"201": 1200},
                }
            },
        },
        "burst": {"slowest_ms": 12.5},
        "upsell": {
            "llm_time_budget_s": 3.0,
            "flag_off": {"p95_ms": 30.0},
            "llm_answers_in_0_2_s": {"p95_ms": 260.0, "upsell_sources": {"llm": 20}},
            "llm_hangs": {"p95_ms": 3050.0, "max_ms": 3100.0},
            "round_trips_upsell_on": {**trips, "llm_calls_per_checkout": 1.0},
            "fallback_hit_rate": 1.0,
            "labelled_carts": 18,
        },
        "catalogue": {
            "seeded": {"products": 20000, "seconds": 12.0},
            "scale": {
                "acme": {
                    "upsell": {"p50_ms": 40.0, "p95_ms": 60.0},
                    "items_read_per_upsell_max": 15,
                    "category_page_p50_ms": 20.0,
                },
                "bench-scale": {
                    "upsell": {"p50_ms": 46.0, "p95_ms": 70.0},
                    "items_read_per_upsell_max": 42,
                    "category_page_p50_ms": 22.0,
                },
                "upsell_p50_ratio": 1.15,
            },
            "llm_calls_per_cart_content": 1.0,
            "checkout": {
                "floor_median_ms": 12.0,
                "upsell_off_median_ms": 20.0,
                "after_cart_page_median_ms": 21.0,
                "after_cart_page_to_off": 1.05,
                "off_to_floor": 1.67,
                "as_lambda_runs_it": {
                    "floor_median_ms": 12.0,
                    "checkout_median_ms": 16.8,
                    "checkout_cpu_median_ms": 8.1,
                    "checkout_to_floor": 1.4,
                    "ratios": [1.45, 1.4, 1.32],
                },
                "as_lambda_runs_it_flag_reused": {"checkout_to_floor": 1.2, "ratios": [1.2, 1.18, 1.25]},
            },
        },
        "payments": {
            "payment_call": {"payments": 40, "p50_ms": 88.0, "p95_ms": 99.2},
            "lapse_to_sellable": {"holds": 12, "sweep_interval_s": 5.0, "p50_s": 2.05, "p95_s": 3.74},
            "crowd": {"outcomes": {"pay 200": 20, "cart 409": 30}, "units_off": {"lamp": 0, "tarp": 0}, "breaches": []},
        },
        "sweeper": {
            "holds": 1000,
            "stripe": "localstripe",
            "function_time_limit_s": 15.0,
            "stripe_calls_at_once": 16,
            "per_tenant_at_once": 8,
            "other_back_after_run": 1,
            "runs_to_clear": 4,
            "most_runs": 30,
            "expired_per_run": [279, 275, 164, 282],
            "seconds_per_run": [5.07, 5.38, 5.18, 4.14],
        },
        "console": {
            "runs": 15,
            "first_paint_p50_ms": 124,
            "orders_listed_p50_ms": 542,
            "paint_to_listed_p50_ms": 418,
            "admin_calls_per_open": [1],
            "orders_first_page": 20,
            "more_orders_than_a_page": True,
        },
        "mail": {"orders": 20, "p50_s": 0.81, "p95_s": 1.2, "max_s": 1.31, "emails_per_order": [1]},
        "upsell_worth": upsell_worth(),
    }
    figures.update(changes)
    return figures


def test_rows_carry_their_targets_marked_met():
    rows = {label: (value, target) for label, value, target in run.design_rows(results())}
    value, target = rows["1 DynamoDB round trips per checkout (up-sell off)"]
    assert (value, str(target)) == (3, "ok   3")
    assert rows["3 deployment.zip: API, authorizer, orders stream"] == ("7.1 MB", run.Target("< 10 MB", True))
    assert rows["  payments.zip: payment routes, hold sweeper"] == ("7.4 MB", run.Target("< 10 MB", True))
    # The API zip's import is held to issue 14's 1.3x, the payments zip's to 1.5x.
    assert rows["  deployment.zip's import app : chalice, boto3 (CPU, median)"] == (
        "1.25x (700 .pyc)",
        run.Target("<= 1.3x", True),
    )
    assert rows["  payments.zip's import app : chalice, boto3 (CPU, median)"] == (
        "1.4x (710 .pyc)",
        run.Target("<= 1.5x", True),
    )
    assert rows["  same, wall clock"] == ("1.4x", None)


def test_a_missed_target_says_miss():
    slow = results(package={"deployment.zip": {"zip_mb": 9.9}, "payments.zip": {"zip_mb": 10.2}})
    sizes = {label: str(t) for label, _, t in run.design_rows(slow) if label.endswith(("orders stream", "sweeper"))}
    assert sizes == {
        "3 deployment.zip: API, authorizer, orders stream": "ok   < 10 MB",
        "  payments.zip: payment routes, hold sweeper": "MISS < 10 MB",
    }
    imports = results()["packaged_import"]
    imports["payments.zip"] = {**imports["payments.zip"], "zip_to_base_cpu": 1.51}
    (target,) = [
        t for label, _, t in run.design_rows(results(packaged_import=imports)) if label.startswith("  payments.zip's")
    ]
    assert str(target) == "MISS <= 1.5x"
    hanging = {**slow["upsell"], "llm_hangs": {"p95_ms": 4000.0, "max_ms": 4500.0}}
    (target,) = [t for label, _, t in run.upsell_rows(hanging) if label.startswith("  up-sell on, LLM hangs")]
    assert str(target) == "MISS < budget + 1 s"


def test_the_table_prints_one_line_per_row(capsys):
    figures = results()
    run.print_table(figures)
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == run.line("figure", "value", "target")
    assert run.line("3 deployment.zip: API, authorizer, orders stream", "7.1 MB", run.Target("< 10 MB", True)) in lines
    assert run.line("  payments.zip: payment routes, hold sweeper", "7.4 MB", run.Target("< 10 MB", True)) in lines
    assert run.line("  fallback hit rate on the labelled carts", "1.0 (18 carts)") in lines
    assert len([line for line in lines if line.endswith(("ok   3", "ok   1"))]) == 3  # round trips, writes, LLM calls
    assert run.line("  DynamoDB items read per up-sell (max)", "15, 42", run.Target("<= 100", True)) in lines
    floor = "  checkout (up-sell off) : bare floor, as Lambda runs it (median of 3)"
    assert run.line(floor, "1.4x (1.32-1.45)", "MISS <= 1.3x") in lines
    assert run.line("  medians: floor, checkout (ms); checkout CPU (ms)", "12.0, 16.8; 8.1") in lines
    assert run.line("  same, flag value reused 60 s (no SSM call per checkout)", "1.2x (1.18-1.25)") in lines
    assert run.line("  same, through chalice local (no target: its HTTP server)", "1.67x") in lines
    api_zip = "  deployment.zip's import app : chalice, boto3 (CPU, median)"
    assert run.line(api_zip, "1.25x (700 .pyc)", "ok   <= 1.3x") in lines
    payments_zip = "  payments.zip's import app : chalice, boto3 (CPU, median)"
    assert run.line(payments_zip, "1.4x (710 .pyc)", "ok   <= 1.5x") in lines
    assert lines[-1] == "figures written to bench/results.json"


def test_the_payment_rows_count_units_lost_or_made_and_a_slow_sweep_misses():
    rows = {label: (value, str(target)) for label, value, target in run.payment_rows(results()["payments"])}
    assert rows["7 payment call p50 / p95 (against localstripe)"] == ("88.0 / 99.2 ms", "None")
    assert rows["7 hold lapsed -> units on sale again p50 / p95 (sweep every 5 s)"] == ("2.05 / 3.74 s", "ok   <= 7 s")
    assert rows["7 randomized crowd (50 actions): units lost or made"] == (0, "ok   0")
    broken = results()["payments"] | {
        "lapse_to_sellable": {"holds": 12, "sweep_interval_s": 5.0, "p50_s": 6.0, "p95_s": 9.5},
        "crowd": {"outcomes": {"pay 200": 50}, "units_off": {"lamp": -1, "tarp": 2}, "breaches": ["lamp: ..."]},
    }
    rows = {label: (value, str(target)) for label, value, target in run.payment_rows(broken)}
    assert rows["7 hold lapsed -> units on sale again p50 / p95 (sweep every 5 s)"][1] == "MISS <= 7 s"
    assert rows["7 randomized crowd (50 actions): units lost or made"] == (3, "MISS 0")


def test_the_sweeper_rows_say_when_the_other_tenant_got_its_unit_and_a_flood_never_cleared_misses():
    rows = {label: (value, str(target)) for label, value, target in run.sweeper_rows(results()["sweeper"])}
    assert rows["8 sweeper: 1000 lapsed + 1 other tenant's, back after run"] == (1, "ok   run 1")
    assert rows["  runs of the 15 s function to expire the 1000"] == (4, "ok   <= 10")
    assert rows["  holds expired per run (localstripe)"] == ("279, 275, 164, 282", "None")
    late = results()["sweeper"] | {"other_back_after_run": 2, "runs_to_clear": None}
    rows = {label: (value, str(target)) for label, value, target in run.sweeper_rows(late)}
    assert rows["8 sweeper: 1000 lapsed + 1 other tenant's, back after run"] == (2, "MISS run 1")
    assert rows["  runs of the 15 s function to expire the 1000"] == ("> 30", "MISS <= 10")


def test_the_console_rows_say_one_admin_request_whatever_the_orders_and_miss_more():
    rows = {label: (value, str(target)) for label, value, target in run.console_rows(results()["console"])}
    assert rows["9 console first paint p50 (15 opens, Chromium)"] == ("124 ms", "None")
    assert rows["  console orders listed p50 (from navigation start)"] == ("542 ms", "None")
    assert rows["  first paint -> orders listed p50"] == ("418 ms", "None")
    label = "  admin API requests to open the orders (more than a page of orders)"
    assert rows[label] == ("1", "ok   1, whatever the orders")
    more = run.console_rows(results()["console"] | {"admin_calls_per_open": [1, 2]})
    assert (more[-1][1], str(more[-1][2])) == ("1, 2", "MISS 1, whatever the orders")


def test_the_mail_rows_time_payment_to_confirmation_and_count_e_mails_per_order():
    rows = {label: (value, str(target)) for label, value, target in run.mail_rows(results()["mail"])}
    assert rows["10 card payment -> confirmation in MailDev p50 / p95 (20 orders)"] == (
        "0.81 / 1.2 s",
        "ok   p95 <= 5 s",
    )
    assert rows["  e-mails per order (stream repeats order_paid)"] == ("1", "ok   exactly 1")
    twice = results()["mail"] | {"emails_per_order": [1, 2], "p95_s": 6.5}
    rows = {label: (value, str(target)) for label, value, target in run.mail_rows(twice)}
    assert rows["  e-mails per order (stream repeats order_paid)"] == ("1, 2", "MISS exactly 1")
    assert rows["10 card payment -> confirmation in MailDev p50 / p95 (20 orders)"] == (
        "0.81 / 6.5 s",
        "MISS p95 <= 5 s",
    )


def test_the_upsell_worth_rows_hold_the_stats_to_the_truth_and_print_the_uplift_with_its_interval():
    rows = {label: (value, str(target)) for label, value, target in run.upsell_worth_rows(results()["upsell_worth"])}
    assert rows["11 up-sell stats = truth (200 carts at globex, 20 % held out)"] == (
        "equal",
        "ok   equal, counts and money",
    )
    assert rows["  revenue_treated: truth / route"] == ("77941.19 / 77941.19", "ok   equal")
    assert rows["  AOV treated vs holdout (847.19 vs 664.36)"] == ("+182.83 [-188.12, 553.79]", "None")
    assert rows["  conversion treated vs holdout (0.5679 vs 0.5)"] == ("+0.0679 [-0.102, 0.2364]", "None")
    assert rows["  GET …/upsell p50 (the shoppers' own calls)"] == ("83.1 ms", "None")


def test_the_upsell_worth_rows_miss_when_the_route_differs_from_the_truth_by_a_cent():
    figures = upsell_worth()
    off = upsell_worth(
        route_totals=figures["route_totals"] | {"upsell_revenue": "23887.65"},
        differences=["2026-12-06 llm upsell_revenue: truth 20100.10, route 20100.09"],
    )
    rows = {label: (value, str(target)) for label, value, target in run.upsell_worth_rows(off)}
    assert rows["11 up-sell stats = truth (200 carts at globex, 20 % held out)"] == (
        "1 differ",
        "MISS equal, counts and money",
    )
    assert rows["  upsell_revenue: truth / route"] == ("23887.66 / 23887.65", "MISS equal")
    assert rows["  orders_treated: truth / route"] == ("92 / 92", "ok   equal")
    assert ("  differs: 2026-12-06 llm upsell_revenue: truth 20100.10, route 20100.09", "") in {
        (label, value) for label, value, _ in run.upsell_worth_rows(off)
    }
