"""The autoscaler's rule as a pure function: HPA math, bounds, tolerance, cool-downs."""

from datetime import timedelta

import pytest
from tests.rollout.builders import T0, V1, inst, workload

from edgeorch.controllers.autoscale import Observed, autoscale, observe_cpu
from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.workload import Scaling, Workload

NOW = T0 + timedelta(hours=1)


def scaled(
    current: int, last_scaled_seconds_ago: float | None = None, **scaling: object
) -> Workload:
    bounds = {"min": 1, "max": 10, "target_cpu_utilization": 70, **scaling}
    w = workload(V1, scaling=bounds, resources={"cpu": 0.5, "memory_mb": 64})
    last = (
        None
        if last_scaled_seconds_ago is None
        else NOW - timedelta(seconds=last_scaled_seconds_ago)
    )
    status = w.status.model_copy(update={"desired_replicas": current, "last_scaled_at": last})
    return w.model_copy(update={"status": status})


@pytest.mark.parametrize(
    ("current", "observed", "expected"),
    [
        (2, 140.0, 4),  # ceil(2 * 140/70)
        (3, 100.0, 5),  # ceil(3 * 1.43) = 5
        (4, 35.0, 2),  # ceil(4 * 0.5)
        (2, 76.0, None),  # ratio 1.086: inside the 10 % tolerance
        (2, 62.0, None),  # ratio 0.886 is outside the band, but ceil(1.77) = 2: no change
        (8, 700.0, 10),  # clamped to max
        (2, 5.0, 1),  # clamped to min
    ],
)
def test_hpa_rule_with_tolerance_and_bounds(
    current: int, observed: float, expected: int | None
) -> None:
    decision = autoscale(scaled(current), Observed(cpu_utilization=observed), NOW)
    assert (decision.desired if decision else None) == expected


def test_events_name_the_observed_value() -> None:
    decision = autoscale(scaled(2), Observed(cpu_utilization=140.0), NOW)
    assert decision is not None and decision.reason == "ScaledUp"
    assert "CPU 140% of request (target 70%)" in decision.message


@pytest.mark.parametrize(
    ("ago", "observed", "allowed"),
    [
        (30, 140.0, False),  # scale-up cool-down 60 s
        (61, 140.0, True),
        (120, 20.0, False),  # scale-down cool-down 300 s (HPA's stabilisation window)
        (301, 20.0, True),
    ],
)
def test_cooldowns_from_last_scaled_at(ago: float, observed: float, allowed: bool) -> None:
    decision = autoscale(scaled(4, ago), Observed(cpu_utilization=observed), NOW)
    assert (decision is not None) is allowed


def test_no_measurement_no_decision_and_no_target_no_decision() -> None:
    assert autoscale(scaled(2), Observed(), NOW) is None
    assert (
        autoscale(scaled(2, target_cpu_utilization=None), Observed(cpu_utilization=300), NOW)
        is None
    )


def test_request_rate_target_and_the_larger_of_two_targets_wins() -> None:
    w = scaled(2, target_requests_per_second=50)
    decision = autoscale(w, Observed(cpu_utilization=70.0, requests_per_second=150.0), NOW)
    assert decision is not None and decision.desired == 6
    assert "150.0 requests/s per replica (target 50)" in decision.message


def test_observed_cpu_is_the_mean_over_running_reporting_replicas() -> None:
    w = scaled(3)
    fleet = [
        inst("a", 1, cpu=0.5),  # 100 % of 0.5 cores
        inst("b", 1, cpu=0.25),  # 50 %
        inst("c", 1, cpu=None),  # no report yet: not counted
        inst("d", 1, cpu=0.5, state=InstanceState.STARTING),  # not running: not counted
    ]
    assert observe_cpu(w, fleet) == pytest.approx(75.0)


def test_brochure_keys_are_accepted() -> None:
    s = Scaling.model_validate(
        {"min_instances": 1, "max_instances": 10, "target_cpu_utilization": 70}
    )
    assert (s.min, s.max, s.target_cpu_utilization) == (1, 10, 70)
