"""The wallet's pure rules: table tests with hand-worked answers, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gonghui.wallet.rules import (
    Kinship,
    Lot,
    Refusal,
    TransferFacts,
    WalletRefused,
    age_on,
    check_balanced,
    in_night_window,
    kinship_seen_by,
    needs_face_check,
    release_at,
    remaining_lots,
    request_hash,
    rollout,
    spend_oldest_first,
    transfer_refusals,
)

BEIJING_09 = datetime(2025, 2, 10, 1, 0, tzinfo=UTC)


def beijing(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2025, 2, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def facts(**changes: object) -> TransferFacts:
    base: dict[str, object] = {
        "amount_fen": 50_000,
        "now": BEIJING_09,
        "giver_region_open": True,
        "recipient_region_open": True,
        "relationship_active": True,
        "both_insured": True,
        "transfers_today": 0,
        "has_pending": False,
        "balance_fen": 100_000,
    }
    return TransferFacts(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hour", "minute", "night"),
    [(21, 59, False), (22, 0, True), (23, 0, True), (0, 0, True), (5, 59, True), (6, 0, False)],
)
def test_the_night_window_runs_from_22_to_06_beijing_time(
    hour: int, minute: int, night: bool
) -> None:
    assert in_night_window(beijing(hour, minute)) is night


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"giver_region_open": False}, Refusal.REGION_NOT_OPEN),
        ({"recipient_region_open": False}, Refusal.REGION_NOT_OPEN),
        ({"relationship_active": False}, Refusal.RELATIONSHIP_NOT_ACTIVE),
        ({"both_insured": False}, Refusal.INSURANCE_ENDED),
        ({"amount_fen": 0}, Refusal.AMOUNT_INVALID),
        ({"amount_fen": 200_001, "balance_fen": 500_000}, Refusal.AMOUNT_OVER_LIMIT),
        ({"now": beijing(23)}, Refusal.NIGHT_WINDOW),
        ({"transfers_today": 3}, Refusal.DAILY_LIMIT),
        ({"has_pending": True}, Refusal.PENDING_TRANSFER),
        ({"balance_fen": 49_999}, Refusal.INSUFFICIENT_BALANCE),
    ],
)
def test_each_rule_refuses_with_its_own_code(change: dict[str, object], refusal: Refusal) -> None:
    assert transfer_refusals(facts(**change)) == [refusal]


def test_a_transfer_within_every_limit_passes() -> None:
    assert transfer_refusals(facts(amount_fen=200_000, balance_fen=200_000)) == []
    assert transfer_refusals(facts(transfers_today=2)) == []


@given(
    amount=st.integers(-10, 400_000),
    minutes=st.integers(0, 24 * 60 - 1),
    count=st.integers(0, 5),
    balance=st.integers(0, 500_000),
)
def test_whatever_passes_is_within_every_limit(
    amount: int, minutes: int, count: int, balance: int
) -> None:
    now = beijing(0) + timedelta(minutes=minutes)
    refused = transfer_refusals(
        facts(amount_fen=amount, now=now, transfers_today=count, balance_fen=balance)
    )
    if not refused:
        assert 0 < amount <= 200_000
        assert amount <= balance
        assert count < 3
        assert 6 <= (now.astimezone(UTC).hour + 8) % 24 < 22


def test_an_unaccepted_transfer_returns_at_the_next_0600() -> None:
    assert release_at(beijing(9)) == beijing(6, day=11)
    assert release_at(beijing(21, 59)) == beijing(6, day=11)
    # Submitted (hypothetically) before dawn, it returns that same morning.
    assert release_at(beijing(5, 0)) == beijing(6)


@given(st.integers(0, 10 * 24 * 60))
def test_release_is_always_a_0600_within_a_day(minutes: int) -> None:
    submitted = beijing(0) + timedelta(minutes=minutes)
    released = release_at(submitted)
    assert released > submitted
    assert released - submitted <= timedelta(days=1)
    assert (released.hour + 8) % 24 == 6
    assert released.minute == 0


def test_a_recipient_needs_face_verification_from_the_sixteenth_birthday() -> None:
    assert age_on(date(2009, 2, 10), date(2025, 2, 10)) == 16
    assert needs_face_check(date(2009, 2, 10), date(2025, 2, 10))
    assert not needs_face_check(date(2009, 2, 11), date(2025, 2, 10))


T0 = datetime(2025, 1, 1, tzinfo=UTC)


def lot(giver: int, day: int, fen: int, transfer: int) -> Lot:
    return Lot(giver, T0 + timedelta(days=day), transfer, fen)


def test_quota_is_spent_oldest_first_across_givers() -> None:
    lots = [lot(7, 3, 30_000, 3), lot(5, 1, 10_000, 1), lot(7, 2, 20_000, 2)]
    # 10,000 from giver 5 (day 1), then 20,000 + 5,000 from giver 7 (days 2, 3).
    assert spend_oldest_first(lots, 35_000) == [(5, 10_000), (7, 25_000)]


def test_spending_more_than_the_quota_is_refused() -> None:
    with pytest.raises(WalletRefused) as refused:
        spend_oldest_first([lot(5, 1, 10_000, 1)], 10_001)
    assert refused.value.code == "insufficient_balance"


def test_remaining_lots_drop_the_oldest_part_first() -> None:
    lots = [lot(5, 1, 10_000, 1), lot(5, 4, 20_000, 4), lot(7, 2, 5_000, 2)]
    # Giver 5 has 25,000 left: all of day 4's lot and 5,000 of day 1's.
    assert remaining_lots(lots, {5: 25_000, 7: 5_000}) == [
        lot(5, 1, 5_000, 1),
        lot(7, 2, 5_000, 2),
        lot(5, 4, 20_000, 4),
    ]


lots_strategy = st.lists(
    st.tuples(st.integers(1, 4), st.integers(0, 30), st.integers(1, 300_000)), max_size=12
)


@given(lots_strategy, st.integers(1, 2_000_000))
def test_spending_conserves_money_and_takes_oldest_first(
    raw: list[tuple[int, int, int]], amount: int
) -> None:
    lots = [lot(g, d, f, i) for i, (g, d, f) in enumerate(raw)]
    total = sum(item.amount_fen for item in lots)
    if amount > total:
        with pytest.raises(WalletRefused):
            spend_oldest_first(lots, amount)
        return
    portions = spend_oldest_first(lots, amount)
    assert sum(fen for _, fen in portions) == amount
    assert all(fen > 0 for _, fen in portions)
    # Replaying it lot by lot: no lot is touched while an older one still has money.
    left = {
        g: sum(x.amount_fen for x in lots if x.giver_id == g) for g in {x.giver_id for x in lots}
    }
    for giver, fen in portions:
        left[giver] -= fen
    kept = {item.transfer_id: item.amount_fen for item in remaining_lots(lots, left)}
    assert sum(kept.values()) == total - amount
    order = sorted(lots, key=lambda x: (x.accepted_at, x.transfer_id))
    touched = [kept.get(x.transfer_id, 0) < x.amount_fen for x in order]
    # Touched lots form a prefix of the age order: True… then False…
    assert touched == sorted(touched, reverse=True)


def test_a_posting_must_balance() -> None:
    check_balanced([("a", -5), ("b", 5)])
    for legs in ([("a", -5), ("b", 4)], [("a", 5)], [("a", 0), ("b", 0)]):
        with pytest.raises(ValueError, match="unbalanced"):
            check_balanced(legs)


@given(st.lists(st.integers(-(10**9), 10**9).filter(bool), min_size=1, max_size=6))
def test_a_posting_balances_exactly_when_its_entries_sum_to_zero(amounts: list[int]) -> None:
    legs = [(str(i), amount) for i, amount in enumerate(amounts)]
    closing = -sum(amounts)
    if closing:
        check_balanced([*legs, ("z", closing)])
    with pytest.raises(ValueError, match="unbalanced"):
        check_balanced([*legs, ("z", closing + 1)] if closing + 1 else [*legs, ("z", 2)])


def test_the_request_hash_ignores_key_order_but_not_values() -> None:
    assert request_hash("pay", {"a": 1, "b": "x"}) == request_hash("pay", {"b": "x", "a": 1})
    assert request_hash("pay", {"a": 1}) != request_hash("pay", {"a": 2})
    assert request_hash("pay", {"a": 1}) != request_hash("submit", {"a": 1})


def test_a_municipality_is_never_province_wide() -> None:
    lines = rollout(
        [("310000", "310000", True), ("130000", "130000", True), ("130100", "130000", True),
         ("150000", "150000", False), ("150100", "150000", True)],
        single_pool=frozenset({"310000"}),
    )  # fmt: skip
    assert [(x.province_code, x.open_regions, x.province_wide) for x in lines] == [
        ("130000", 2, True),
        ("150000", 1, False),
        ("310000", 1, False),
    ]


@pytest.mark.parametrize(
    ("declared", "seen_by_recipient"),
    [
        (Kinship.PARENT, Kinship.CHILD),  # the giver's mother sees her son as 子女
        (Kinship.CHILD, Kinship.PARENT),
        (Kinship.SPOUSE, Kinship.SPOUSE),
        (Kinship.SIBLING, Kinship.SIBLING),
        (Kinship.GRANDPARENT, Kinship.GRANDCHILD),
        (Kinship.MATERNAL_GRANDPARENT, Kinship.DAUGHTERS_CHILD),
    ],
)
def test_each_side_reads_the_relation_from_its_own_end(
    declared: Kinship, seen_by_recipient: Kinship
) -> None:
    assert kinship_seen_by(declared, giver=True) is declared
    assert kinship_seen_by(declared, giver=False) is seen_by_recipient
    # Read from the other end twice, a relation is itself again.
    assert kinship_seen_by(seen_by_recipient, giver=False) is declared
