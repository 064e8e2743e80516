"""The demo federation's positions: a few hundred across Yantai's districts, a mobile service
vehicle with its site visits, a year of scans, counts, activities and ratings, and two
evaluations, the second of which turns some yellow cards red.

Rows of the year are generated here and appended in bulk (`copy_rows`); positions, the
vehicle and the evaluations go through the services, as real work would.
"""

from __future__ import annotations

import functools
import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.clock import BUSINESS_TZ, business_date
from gonghui.core.db import copy_rows
from gonghui.members import accounts
from gonghui.stations import evaluation, feedback, operations, queries, service, visits
from gonghui.stations.records import PositionRecord
from gonghui.stations.rules import (
    Amenity,
    ComplaintStatus,
    CountSource,
    PositionType,
    VehicleService,
)

DEMO = Actor(user_id=None, username="demo", role=Role.ADMIN, display_name="演示数据")
# Approximate centres of Yantai's districts, for placing demo positions only.
CENTRES = {
    "芝罘区": (37.54, 121.40),
    "福山区": (37.50, 121.27),
    "牟平区": (37.39, 121.60),
    "莱山区": (37.51, 121.44),
    "蓬莱区": (37.81, 120.76),
    "龙口市": (37.65, 120.48),
    "莱阳市": (36.98, 120.71),
    "莱州市": (37.18, 119.94),
    "招远市": (37.36, 120.43),
    "栖霞市": (37.34, 120.85),
    "海阳市": (36.78, 121.16),
}
# Main streets of each district, so that the finder's street search has something to find
# (taken in turn, not drawn, so the demo's random draws stay as they were).
STREETS = {
    "芝罘区": ("南大街", "北马路", "胜利路", "解放路", "环山路"),
    "福山区": ("福海路", "河滨路", "永达街"),
    "牟平区": ("正阳路", "通海路", "文化街"),
    "莱山区": ("观海路", "迎春大街", "港城东大街"),
    "蓬莱区": ("钟楼北路", "海港路", "登州路"),
    "龙口市": ("港城大道", "东莱街", "振华路"),
    "莱阳市": ("五龙北路", "旌旗路", "鹤山路"),
    "莱州市": ("文化东街", "府前东街", "光州街"),
    "招远市": ("温泉路", "金晖路", "罗峰路"),
    "栖霞市": ("霞光路", "跃进路"),
    "海阳市": ("海政路", "方圆路", "东村街"),
}
# A position of several kinds is an integrated one (融合型阵地), and is named so; one of a
# single kind is named after that kind.
INTEGRATED = "融合型阵地"
DEFAULT_POSITIONS = 300
YEAR_DAYS = 365  # the days of visits, counts and activities before today
MANAGED = 5
# What visitors wrote, and what the manager answered: (complaint, name, call-back, resolution).
COMPLAINTS = (
    ("饮水机没有热水", "", "", "已更换加热模块"),
    (
        "晚上七点就关门了，和公示时间不符",
        "赵师傅",
        "已致电说明，值班表已调整",
        "开放时间按公示执行",
    ),
    ("充电插座不够用", "孙女士", "", ""),
)


def load(
    session: Session, *, now: datetime, seed: int = 2025, count: int = DEFAULT_POSITIONS
) -> int:
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    # The demo's station manager (the `station` persona) runs the first five positions.
    manager = next(iter(accounts.active_users_in_role(session, Role.STATION_MANAGER)), None)
    today = business_date(now)
    # The positions are on the books before the year of visits below begins.
    recorded = now - timedelta(days=YEAR_DAYS + 1)
    ids = [
        _position(session, rng, i, manager if i < MANAGED else None, recorded) for i in range(count)
    ]
    # One position in eight is barely used: the evaluations have cards to give.
    quiet = set(rng.sample(ids, max(1, len(ids) // 8)))
    _year(session, rng, ids, quiet, today)
    _managed(session, rng, ids[:MANAGED], today)
    _vehicle(session, manager, now)
    session.flush()
    # Two evaluations of months inside the year of visits: the first, three months back, run
    # on the 5th of the month after it, gives yellow cards whose 30 days have passed by the end
    # of last month; the second, of last month, run now, turns the quiet ones red.
    last_month = today.replace(day=1) - timedelta(days=1)
    first = _months_back(today, 3)
    run_on = _months_back(today, 2).replace(day=5)
    earlier = datetime.combine(run_on, time(9), BUSINESS_TZ).astimezone(UTC)
    evaluation.evaluate(session, f"{first:%Y-%m}", actor=DEMO, now=earlier)
    evaluation.evaluate(session, f"{last_month:%Y-%m}", actor=DEMO, now=now)
    return len(ids)


def _months_back(today: date, months: int) -> date:
    """The first day of the month `months` before today's."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _street(district: str, i: int) -> str:
    streets = STREETS[district]
    return streets[i % len(streets)]


def _position(
    session: Session, rng: random.Random, i: int, manager: int | None, now: datetime
) -> int:
    district = rng.choice(list(CENTRES))
    lat, lon = CENTRES[district]
    kinds = rng.sample(list(PositionType), rng.choice((1, 1, 2, 3)))
    amenities = rng.sample(list(Amenity), rng.randint(3, len(Amenity)))
    kind_name = kinds[0].label if len(kinds) == 1 else INTEGRATED
    record = PositionRecord(
        code=f"YT-{i + 1:04d}",
        name=f"{district}{kind_name}{i + 1}号",
        type_mask=sum(k.value for k in kinds),
        address=f"烟台市{district}{_street(district, i)}{rng.randint(1, 300)}号",
        district=district,
        latitude=round(lat + rng.uniform(-0.06, 0.06), 5),
        longitude=round(lon + rng.uniform(-0.08, 0.08), 5),
        hours="08:00-20:00",
        open_24h=rng.random() < 0.065,  # noqa: PLR2004 - 6.5% nationally (domain note)
        operator_org=f"烟台市{district}总工会",
        responsible_person=rng.choice(("王芳", "李娜", "张伟", "刘洋", "陈静")),
        responsible_phone=f"138{rng.randint(0, 99_999_999):08d}",
        amenity_mask=sum(a.value for a in amenities),
        area_m2=rng.randint(20, 400),
        seats=rng.randint(4, 60),
        stars=rng.randint(1, 5),
        most_beautiful=rng.random() < 0.185,  # noqa: PLR2004 - 18.5% nationally
        smart=rng.random() < 0.063,  # noqa: PLR2004 - 6.3% nationally
        opened_on=date(2023, 1, 1) + timedelta(days=rng.randint(0, 500)),
    )
    position, _new = service.save_position(
        session, record, manager_user_id=manager, actor=DEMO, now=now
    )
    return position.id


def _instant(day: date, rng: random.Random) -> datetime:
    return _midnight(day) + timedelta(hours=rng.randint(8, 19), minutes=rng.randint(0, 59))


@functools.cache
def _midnight(day: date) -> datetime:
    """A day's start in Beijing, in UTC (China keeps no summer time, so hours simply add):
    converted once a day rather than once for each of the year's 300,000 visits."""
    return datetime.combine(day, time(0), BUSINESS_TZ).astimezone(UTC)


def _year(
    session: Session, rng: random.Random, ids: list[int], quiet: set[int], today: date
) -> None:
    visits, ratings, activities = [], [], []
    for day_number in range(YEAR_DAYS, 0, -1):
        day = today - timedelta(days=day_number)
        for position_id in ids:
            # Measured QR scans run about 2.5 a station a day nationally (domain note).
            scans = rng.randint(0, 1) if position_id in quiet else rng.randint(1, 5)
            for n in range(scans):
                at = _instant(day, rng)
                key = f"demo-{position_id}-{day_number}-{n}"
                visits.append((position_id, "visitor", key, "快递员", at, at))
                if rng.random() < 0.15:  # noqa: PLR2004
                    low = 1 if position_id in quiet else 3
                    stars = [rng.randint(low, 5) for _ in range(5)]
                    ratings.append((position_id, *stars, "survey", at))
            if position_id not in quiet and day.day in {8, 22}:
                activities.append(
                    (
                        position_id,
                        day,
                        "读书分享",
                        "职工读书会",
                        rng.randint(8, 40),
                        _instant(day, rng),
                    )
                )
    copy_rows(
        session,
        "station_visits",
        ["position_id", "kind", "person_key", "occupation", "visited_at", "token_issued_at"],
        visits,
    )
    copy_rows(
        session,
        "station_ratings",
        [
            "position_id",
            "rules",
            "service",
            "environment",
            "facilities",
            "effectiveness",
            "source",
            "rated_at",
        ],
        ratings,
    )
    copy_rows(
        session,
        "station_activities",
        ["position_id", "held_on", "kind", "title", "attendance", "created_at"],
        activities,
    )


def _managed(session: Session, rng: random.Random, ids: list[int], today: date) -> None:
    """The managed positions' own records: complaints in each state (one real-name complaint
    still awaits its call-back) and a month of camera counts."""
    for number, position_id in enumerate(ids):
        position = queries.position_for(session, DEMO, position_id)
        for offset, (text, name, callback, resolution) in enumerate(COMPLAINTS):
            filed = _instant(today - timedelta(days=40 - 10 * offset + number), rng)
            complaint = feedback.file_complaint(
                session,
                position,
                text,
                now=filed,
                contact_name=name,
                contact_phone=f"1390000{number:02d}{offset:02d}" if name else "",
            )
            answered = filed + timedelta(days=1)
            if callback:
                feedback.handle_complaint(
                    session, complaint, ComplaintStatus.CALLED_BACK, callback,
                    actor=DEMO, now=answered,
                )  # fmt: skip
            if resolution:
                feedback.handle_complaint(
                    session, complaint, ComplaintStatus.CLOSED, resolution,
                    actor=DEMO, now=answered + timedelta(hours=2),
                )  # fmt: skip
        for back in range(30, 0, -1):
            day = today - timedelta(days=back)
            visits.record_count(
                session, position, day, CountSource.CAMERA, 20 + (day.day * 7 + number) % 40,
                actor=DEMO, now=_instant(day, rng),
            )  # fmt: skip


def _vehicle(session: Session, manager: int | None, now: datetime) -> None:
    """The Zhangjiagang article's vehicle and volunteer team, on Yantai's building sites."""
    vehicle = operations.create_vehicle(
        session,
        name="张闻明1号",
        plate="鲁F·D2025",
        team="同城伙伴志愿服务团",
        manager_user_id=manager,
        actor=DEMO,
        now=now,
    )
    today = business_date(now)
    sites = ("泗港花苑项目工地", "芝罘湾安置房项目工地", "莱山区地铁站点工地", "福山区厂房扩建工地")
    for offset, site in enumerate(sites):
        plan = operations.TripPlan(
            site, "建筑工地", "芝罘区", today + timedelta(days=14 * offset - 28)
        )
        trip = operations.schedule_trip(session, vehicle, plan, actor=DEMO, now=now)
        if plan.scheduled_on < today:
            operations.complete_trip(
                session,
                trip,
                services=[
                    VehicleService.HAIRCUT,
                    VehicleService.SAFETY_QUIZ,
                    VehicleService.COUPLETS,
                    VehicleService.DUMPLINGS,
                ],
                people_served=60 + 15 * offset,
                volunteers=12,
                actor=DEMO,
                now=now,
            )
