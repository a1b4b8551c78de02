"""Top-K counters (Space-Saving): bounded maps whose heavy hitters survive."""

from chalicelib import counters


def test_adds_to_known_keys_and_fills_free_room():
    assert counters.add_top_k({"a": 2}, {"a": 1, "b": 3}, k=3) == {"a": 3, "b": 3}


def test_a_new_key_takes_the_smallest_counter_and_inherits_it():
    assert counters.add_top_k({"a": 5, "b": 1, "c": 2}, {"d": 1}, k=3) == {"a": 5, "c": 2, "d": 2}


def test_ties_evict_the_smallest_key_first():
    assert counters.add_top_k({"b": 1, "a": 1}, {"c": 4}, k=2) == {"b": 1, "c": 5}


def test_maps_stored_before_the_cap_are_cut_to_their_top_k_first():
    assert counters.add_top_k({"a": 1, "b": 9, "c": 4, "d": 7}, {}, k=2) == {"b": 9, "d": 7}


def test_a_frequent_key_survives_a_stream_of_one_off_keys():
    counts: dict[str, int] = {}
    for n in range(1000):
        counts = counters.add_top_k(counts, {"hot": 1} if n % 3 == 0 else {f"rare-{n}": 1}, k=10)
    assert len(counts) == 10
    assert counters.ranked(counts)[0] == "hot"
    assert counts["hot"] == 334  # its true count: never the smallest, so never evicted


def test_as_counts_ignores_bad_and_non_positive_values_and_ranks_deterministically():
    counts = counters.as_counts({"x": "4", "y": "oops", "z": 0, "v": 1, "w": 4})
    assert counts == {"x": 4, "v": 1, "w": 4}
    assert counters.ranked(counts) == ["w", "x", "v"]
    assert counters.as_counts(None) == {}
