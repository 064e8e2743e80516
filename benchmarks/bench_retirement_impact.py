"""The retirement impact report over 1,000,000 synthetic members, set-based, against the
per-member rule called in a loop over the same members (timed on a sample, extrapolated).

Issue 3's target: the report in under 10 s, and at least 20x the loop.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import NamedTuple

from gonghui.members.rules import EmploymentStatus, PostType, Sex
from gonghui.retirement.impact import HORIZON_YEARS, impact_report
from gonghui.retirement.membership import AT_WORK, category_of
from gonghui.retirement.rules import Month, decide_retirement

MEMBERS = 1_000_000
LOOP_SAMPLE = 50_000
UNITS = 2_000
INDUSTRIES = ("制造业", "建筑业", "采矿业", "交通运输业", "教育", "卫生", "批发和零售业")
TODAY = date(2025, 2, 10)


class Profile(NamedTuple):
    member_id: int
    unit_id: int
    unit_name: str
    unit_credit_code: str
    industry: str
    birth_date: date
    sex: Sex
    post_type: PostType
    employment_status: EmploymentStatus


def synthetic_members(count: int, seed: int = 2025) -> list[Profile]:
    rng = random.Random(seed)
    units = [(f"单位{i:04d}", f"CODE{i:014d}", rng.choice(INDUSTRIES)) for i in range(UNITS)]
    # One date object per day of birth, shared, so a million members fit in memory comfortably.
    births = [date(1960, 1, 1) + timedelta(days=day) for day in range(365 * 47)]
    statuses = [EmploymentStatus.EMPLOYED] * 18 + [
        EmploymentStatus.EARLY_LEAVE,
        EmploymentStatus.RETIRED,
    ]
    members = []
    for member_id in range(1, count + 1):
        unit_id = rng.randrange(UNITS)
        name, code, industry = units[unit_id]
        members.append(
            Profile(
                member_id,
                unit_id,
                name,
                code,
                industry,
                rng.choice(births),
                rng.choice((Sex.MALE, Sex.FEMALE)),
                rng.choice((PostType.PRODUCTION, PostType.MANAGEMENT_TECHNICAL)),
                rng.choice(statuses),
            )
        )
    return members


def per_member_loop(members: list[Profile]) -> list[list[int]]:
    """The naive way: the rule for every member, then each of the 15 years checked in turn."""
    first = TODAY.year
    counts = [[0] * 4 for _ in range(HORIZON_YEARS)]
    for member in members:
        if member.employment_status not in AT_WORK:
            continue
        birth = Month(member.birth_date.year, member.birth_date.month)
        decision = decide_retirement(category_of(member.sex, member.post_type), birth)
        original = birth.plus(decision.original_age_months)
        for offset in range(HORIZON_YEARS):
            year = first + offset
            december = Month(year, 12).index
            at_work = december < decision.retirement_month.index
            counts[offset][0] += original.year == year
            counts[offset][1] += decision.retirement_month.year == year
            counts[offset][2] += at_work and december - birth.index >= 55 * 12
            counts[offset][3] += at_work and december - birth.index >= 60 * 12
    return counts


def main() -> None:
    members = synthetic_members(MEMBERS)
    started = time.perf_counter()
    report = impact_report(members, TODAY)
    set_based = time.perf_counter() - started

    sample = members[:LOOP_SAMPLE]
    started = time.perf_counter()
    loop_counts = per_member_loop(sample)
    loop = (time.perf_counter() - started) * MEMBERS / LOOP_SAMPLE

    # The two must agree on the sample, or the comparison means nothing.
    sample_report = impact_report(sample, TODAY)
    expected = [
        [f.reaching_original_age, f.retiring_new, f.aged_55_plus, f.aged_60_plus]
        for f in sample_report.total.years
    ]
    if loop_counts != expected:
        msg = "the set-based report and the per-member loop disagree"
        raise RuntimeError(msg)

    print(f"members: {MEMBERS:,} ({report.total.members:,} at work, {len(report.by_unit)} units)")
    print(f"impact report, set-based:     {set_based:6.2f} s")
    print(f"per-member loop (from {LOOP_SAMPLE:,}): {loop:6.2f} s")
    print(f"ratio: {loop / set_based:.1f}x (issue 3's target: under 10 s and at least 20x)")
