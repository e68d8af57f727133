"""workers/worker.py `dispatch_rate`: Temporal's limiter, as its matching service runs it, never lets
a second see more than the policy's calls (tests/e2e/test_scale_out.py measures it for real)."""

import math

import pytest

from workers.worker import dispatch_rate


def busiest_second(rate: float, burst: int, seconds: float = 30.0) -> int:
    """Dispatches in the busiest one-second window of a token bucket (full at first) under demand
    that never stops: the burst at once, then one each time a token comes back."""
    times = [0.0] * burst
    k = 1
    while k / rate < seconds:
        times.append(k / rate)
        k += 1
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0 - 1e-9:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 10, 25, 50, 1000])
def test_no_second_reaches_past_the_limit(limit: float) -> None:
    rate = dispatch_rate(limit)
    burst = max(1, math.ceil(rate))  # matching: ceil(rate / partitions), at least minTaskThrottlingBurstSize
    assert busiest_second(rate, burst) <= max(1, limit - 1)


def test_a_second_partition_would_break_it() -> None:
    """Why deploy/ sets one partition: four buckets hold four bursts."""
    limit = 10
    rate = dispatch_rate(limit) / 4
    assert 4 * busiest_second(rate, max(1, math.ceil(rate))) > limit
