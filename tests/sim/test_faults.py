"""Fault specs: the accepted forms and the errors for the rest."""

import pytest

from edgeorch.sim.faults import Fault, FaultError, parse_fault, per_second_probability


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kill:10%@60s", Fault("kill", 60.0, None, 10.0, True, text="kill:10%@60s")),
        ("kill:25@2m", Fault("kill", 120.0, None, 25.0, False, text="kill:25@2m")),
        ("hang:5%@30+20s", Fault("hang", 30.0, 20.0, 5.0, True, text="hang:5%@30+20s")),
        (
            "partition:eu-west@120s+30s",
            Fault("partition", 120.0, 30.0, region="eu-west", text="partition:eu-west@120s+30s"),
        ),
        ("churn:5/min", Fault("churn", per_minute=5.0, text="churn:5/min")),
        ("churn:1/s", Fault("churn", per_minute=60.0, text="churn:1/s")),
    ],
)
def test_accepted_forms(text: str, expected: Fault) -> None:
    assert parse_fault(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("explode:10%@1s", "unknown kind 'explode'"),
        ("kill:10%", r"expected kill:SHARE@T"),
        ("kill:150%@1s", "above 100%"),
        ("kill:10%@1s+5s", "a kill has no duration"),
        ("partition:eu-west@10s", r"expected partition:REGION@T\+D"),
        ("churn:lots", "expected churn:N/min"),
    ],
)
def test_rejected_forms_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        parse_fault(text)


def test_share_counts() -> None:
    assert parse_fault("kill:10%@0s").count_of(25) == 3  # rounds up: 10% of 25 is 2.5 nodes
    assert parse_fault("kill:40@0s").count_of(25) == 25


def test_fail_rate_per_second_compounds_to_the_per_minute_rate() -> None:
    p = per_second_probability(0.5)
    assert abs((1 - p) ** 60 - 0.5) < 1e-9
    with pytest.raises(FaultError, match="not a probability"):
        per_second_probability(2)
