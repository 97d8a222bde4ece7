"""A small run of the end-to-end hostile-line fuzz (``tests/faults/fuzz.py``)."""

from __future__ import annotations

import pytest

from tests.faults.fuzz import fuzz


@pytest.mark.parametrize("seed", [1, 2])
def test_hostile_lines_through_replay_follow_and_the_page(tmp_path, seed):
    """No traceback; every line applied or counted; follow equals replay; pages render."""
    inputs = fuzz(3_000, seed, tmp_path, pages=seed == 1)
    reasons = inputs["reject_reasons"]
    assert {"out_of_range", "non_finite", "not_json", "wrong_type", "duplicate_id"} <= set(reasons)
