"""Reporter's ranges: parts weighted by their work, fractions that stay in range and never go down."""

from __future__ import annotations

import pytest

from neuralpoly_core.errors import Cancelled, NeuralPolyError
from neuralpoly_core.reporting import Reporter


def recorder():
    seen = []
    return seen, lambda f, m: seen.append((f, m))


def test_weighted_parts_share_their_ends_exactly():
    seen, progress = recorder()
    root = Reporter(progress)
    weights = [3.0, 0.1, 7.0, 0.0, 1e-9, 2.5]
    parts = root.parts(weights)
    assert len(parts) == len(weights)
    for part in parts:
        for x in (0.0, 0.3, 0.999999, 1.0):
            part(x, "step")
    fracs = [f for f, _ in seen]
    assert all(fracs[i] == fracs[i + 1] for i in range(3, len(fracs) - 1, 4))     # one part's end, the next's start
    assert fracs[0] == 0.0 and fracs[-1] == 1.0 and fracs == sorted(fracs)
    total = sum(weights)
    assert parts[2].start == pytest.approx((3.0 + 0.1) / total) and parts[2].span == pytest.approx(7.0 / total)


def test_parts_of_a_part_and_the_range_is_kept():
    seen, progress = recorder()
    half = Reporter(progress).part(0.5, 0.5)
    for p in half.parts([1, 1]):
        p(-1.0)
        p(2.0)
    assert [f for f, _ in seen] == [0.5, 0.75, 0.75, 1.0]
    zero = Reporter(progress).parts([0, 0])
    assert [p.span for p in zero] == [0.0, 0.0]
    with pytest.raises(NeuralPolyError, match="weights of parts"):
        Reporter(progress).parts([1.0, -1.0])


def test_the_interval_counts_over_all_parts_and_cancel_reaches_them():
    seen, progress = recorder()
    a, b = Reporter(progress, interval=3600.0).parts([1, 1])
    a(0.1)
    b(0.1)                       # within the interval of a's call: not sent
    b(0.2, force=True)
    assert [round(f, 6) for f, _ in seen] == [0.05, 0.6]
    flag = []
    _, part = Reporter(None, lambda: bool(flag), what="job").parts([1, 2])
    part(0.5)
    flag.append(1)
    with pytest.raises(Cancelled, match="job cancelled"):
        part(0.6)
