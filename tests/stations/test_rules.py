"""The pure rules: scoring, the card state machine, complaints, tokens, the grid."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.stations import tokens
from gonghui.stations.geo import cell_of, covered_radius_km, haversine_km
from gonghui.stations.periods import parse_period
from gonghui.stations.rules import (
    AMENITY_LABELS,
    Card,
    ComplaintStatus,
    PositionStatus,
    PositionType,
    card_step,
    complaint_step,
    parse_labels,
)
from gonghui.stations.scoring import Aspect, Facts, RuleSet, score

A = Aspect


def test_a_busy_well_rated_position_scores_as_worked_out_by_hand() -> None:
    facts = Facts(
        open_days=30,
        scans=90,
        counted=90,
        activities=2,
        ratings=2,
        rating_rules=10,
        rating_service=8,
        rating_environment=6,
        rating_facilities=4,
        rating_effectiveness=2,
        amenities=11,
        complaints=2,
        complaints_closed=1,
    )
    result = score(facts, RuleSet())
    # rules: half the complaints closed (50) blended 60/40 with all-5 ratings (100) = 70
    assert result.aspects == {
        A.RULES: 70,
        A.SERVICE: 90,
        A.ENVIRONMENT: 50,
        A.FACILITIES: 70,
        A.EFFECTIVENESS: 60,
    }
    # (70·15 + 90·20 + 50·15 + 70·20 + 60·30) / 100 = 68
    assert result.total == 68
    assert result.passed


def test_a_position_with_no_records_fails_on_neutral_ratings_alone() -> None:
    result = score(Facts(open_days=31), RuleSet())
    assert result.aspects == {
        A.RULES: 84,
        A.SERVICE: 24,
        A.ENVIRONMENT: 60,
        A.FACILITIES: 24,
        A.EFFECTIVENESS: 24,
    }
    assert result.total == 38
    assert not result.passed


def test_one_aspect_below_the_floor_fails_a_position_whose_total_passes() -> None:
    rated = {"rating_rules": 5, "rating_service": 5, "rating_environment": 5}
    facts = Facts(open_days=30, ratings=1, rating_facilities=1, rating_effectiveness=5, **rated)
    result = score(facts, RuleSet())
    # No amenities and a 1-star facilities rating: 0; the rest (100, 40, 100, 40) total 50.
    assert result.aspects[A.FACILITIES] == 0
    assert result.total == 50
    assert not result.passed
    assert score(facts, RuleSet(aspect_floor=0, pass_total=50)).passed


def test_a_rule_set_whose_weights_do_not_add_up_is_refused_in_chinese() -> None:
    assert RuleSet(weight_rules=50).problems() == ["五项权重之和应为100"]
    assert RuleSet().problems() == []


def test_a_rule_set_whose_targets_no_position_could_meet_is_refused() -> None:
    typed_a_date = RuleSet(usage_target_per_day=20_250_203, activities_target_per_30_days=301)
    assert typed_a_date.problems() == ["日均使用人次目标应为1至10,000", "活动频次目标应为1至300"]
    assert RuleSet(usage_target_per_day=0).problems() == ["日均使用人次目标应为1至10,000"]
    highest = RuleSet(usage_target_per_day=10_000, activities_target_per_30_days=300)
    assert highest.problems() == []


@st.composite
def facts_strategy(draw: st.DrawFn) -> Facts:
    """Facts that records can produce: each aspect's rating sum between 1 and 5 stars per
    rating, no more complaints closed than received."""
    ratings = draw(st.integers(0, 300))
    complaints = draw(st.integers(0, 50))
    sums = {f"rating_{a.value}": draw(st.integers(ratings, 5 * ratings)) for a in Aspect}
    return Facts(
        open_days=draw(st.integers(1, 366)),
        scans=draw(st.integers(0, 20_000)),
        counted=draw(st.integers(0, 20_000)),
        activities=draw(st.integers(0, 400)),
        ratings=ratings,
        amenities=draw(st.integers(0, 11)),
        complaints=complaints,
        complaints_closed=draw(st.integers(0, complaints)),
        **sums,
    )


@given(facts_strategy())
def test_every_aspect_and_the_total_stay_between_0_and_100(facts: Facts) -> None:
    result = score(facts, RuleSet())
    assert all(0 <= value <= 100 for value in result.aspects.values())
    assert 0 <= result.total <= 100


@given(facts_strategy(), st.integers(1, 500))
def test_more_visits_never_lower_a_score(facts: Facts, more: int) -> None:
    busier = Facts(**{**facts.__dict__, "scans": facts.scans + more})
    assert score(busier, RuleSet()).total >= score(facts, RuleSet()).total


DAY = date(2025, 2, 5)


@pytest.mark.parametrize(
    ("status", "passed", "deadline", "period_end", "expected"),
    [
        (PositionStatus.ACTIVE, True, None, date(2025, 1, 31), (PositionStatus.ACTIVE, None)),
        (
            PositionStatus.ACTIVE,
            False,
            None,
            date(2025, 1, 31),
            (PositionStatus.YELLOW, date(2025, 3, 7)),
        ),
        # Still inside its rectification period: the card stands, unjudged.
        (
            PositionStatus.YELLOW,
            False,
            date(2025, 3, 7),
            date(2025, 2, 28),
            (PositionStatus.YELLOW, date(2025, 3, 7)),
        ),
        (
            PositionStatus.YELLOW,
            False,
            date(2025, 3, 7),
            date(2025, 3, 31),
            (PositionStatus.RED, None),
        ),
        (
            PositionStatus.YELLOW,
            True,
            date(2025, 3, 7),
            date(2025, 3, 31),
            (PositionStatus.ACTIVE, None),
        ),
    ],
)
def test_the_card_state_machine(
    status: PositionStatus,
    passed: bool,
    deadline: date | None,
    period_end: date,
    expected: tuple[PositionStatus, date | None],
) -> None:
    step = card_step(
        status,
        passed=passed,
        deadline=deadline,
        period_end=period_end,
        decided_on=DAY,
        rectification_days=30,
    )
    assert (step.status, step.deadline) == expected


@given(
    st.sampled_from([PositionStatus.ACTIVE, PositionStatus.YELLOW]),
    st.lists(st.booleans(), min_size=1, max_size=12),
)
def test_a_red_card_always_follows_a_yellow_one_and_only_a_failure(
    start: PositionStatus, outcomes: list[bool]
) -> None:
    status, deadline = start, (DAY if start is PositionStatus.YELLOW else None)
    for month, passed in enumerate(outcomes):
        if status is PositionStatus.RED:
            break
        period_end = DAY + timedelta(days=31 * (month + 1))
        step = card_step(
            status,
            passed=passed,
            deadline=deadline,
            period_end=period_end,
            decided_on=period_end + timedelta(days=3),
            rectification_days=30,
        )
        if step.status is PositionStatus.RED:
            assert status is PositionStatus.YELLOW
            assert not passed
        if passed and status is PositionStatus.ACTIVE:
            assert step.card is Card.GREEN
        status, deadline = step.status, step.deadline


def test_closed_and_red_positions_are_not_evaluated() -> None:
    with pytest.raises(ValueError, match="not evaluated"):
        card_step(
            PositionStatus.RED,
            passed=True,
            deadline=None,
            period_end=DAY,
            decided_on=DAY,
            rectification_days=30,
        )


def test_a_real_name_complaint_is_called_back_before_it_is_closed() -> None:
    with pytest.raises(ValueError, match="须先回访"):
        complaint_step(ComplaintStatus.OPEN, ComplaintStatus.CLOSED, real_name=True)
    assert (
        complaint_step(ComplaintStatus.OPEN, ComplaintStatus.CLOSED, real_name=False)
        is ComplaintStatus.CLOSED
    )
    with pytest.raises(ValueError, match="不能从"):
        complaint_step(ComplaintStatus.CLOSED, ComplaintStatus.OPEN, real_name=False)


def test_labels_in_a_cell_become_a_mask_and_unknown_ones_are_named() -> None:
    mask = parse_labels(
        {PositionType.STATION: "工会驿站", PositionType.BOOK_ROOM: "职工书屋"},
        "工会驿站、职工书屋",
        "阵地类型",
    )
    assert mask == 4 + 16
    with pytest.raises(ValueError, match="“桑拿”不在清单中"):
        parse_labels(AMENITY_LABELS, "微波炉，桑拿", "设施")


KEY = tokens.derive_key("k" * 40)
T0 = datetime(2025, 2, 10, 1, 0, tzinfo=UTC)


def test_a_fresh_token_names_its_position() -> None:
    scan = tokens.verify(KEY, tokens.issue(KEY, 42, T0), T0 + timedelta(minutes=9))
    assert scan.position_id == 42


@pytest.mark.parametrize(
    ("token", "when", "message"),
    [
        (tokens.issue(KEY, 42, T0), T0 + timedelta(minutes=10, seconds=1), "已过期"),
        (tokens.issue(KEY, 42, T0).replace("42.", "43.", 1), T0, "篡改"),
        (tokens.issue(tokens.derive_key("x" * 40), 42, T0), T0, "篡改"),
        ("42.abc.def", T0, "无效"),
        (tokens.issue(KEY, 42, T0 + timedelta(minutes=5)), T0, "时间异常"),
    ],
)
def test_a_stale_forged_or_garbled_token_is_refused(
    token: str, when: datetime, message: str
) -> None:
    with pytest.raises(tokens.TokenRefused, match=message):
        tokens.verify(KEY, token, when)


def test_a_token_of_another_position_is_refused_where_a_position_is_expected() -> None:
    with pytest.raises(tokens.TokenRefused, match="不属于"):
        tokens.verify(KEY, tokens.issue(KEY, 42, T0), T0, position_id=7)


def test_haversine_gives_the_known_distance_between_two_cities() -> None:
    # Yantai (37.4638 N, 121.4479 E) to Qingdao (36.0671 N, 120.3826 E): about 181 km.
    assert 175 < haversine_km(37.4638, 121.4479, 36.0671, 120.3826) < 187


@given(st.floats(20, 50), st.floats(80, 130), st.floats(-0.5, 0.5), st.floats(-0.5, 0.5))
def test_a_point_outside_the_searched_square_is_farther_than_its_covered_radius(
    lat: float, lon: float, dlat: float, dlon: float
) -> None:
    row, col = cell_of(lat, lon)
    other_row, other_col = cell_of(lat + dlat, lon + dlon)
    ring = max(abs(other_row - row), abs(other_col - col)) - 1
    if ring >= 1:
        assert haversine_km(lat, lon, lat + dlat, lon + dlon) >= covered_radius_km(lat, ring)


def test_periods_are_a_month_or_a_year_and_nothing_else() -> None:
    assert parse_period("2025-02").end == date(2025, 2, 28)
    assert parse_period("2024").days == 366
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_period("2025-13")
