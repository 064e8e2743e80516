"""The member's home answers "where do I stand": cover and why, the running average of this
month to yesterday and the amount a day still needed, claims with their next step, unread
notices; the message centre marks read only on a POST."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.insurance.models import Plan
from gonghui.insurance.store import BalanceStore
from gonghui.members import service as member_service
from gonghui.members.models import Notification
from tests.conftest import NOW
from tests.insurance.scenario import send_file
from tests.world import World, login, post_form


def test_home_tells_the_running_average_to_yesterday_and_the_amount_a_day_needed(
    client: TestClient, db: Session, world: World, store: BalanceStore, covered: Plan
) -> None:
    # The clock reads 2025-02-10 in Beijing: the 1st to the 9th are reported at ¥1,640.
    send_file(
        db,
        store,
        world.bank_ytb,
        [f"{world.card_a},2025-02-{day:02d},1640.00" for day in range(1, 10)],
    )
    db.commit()
    login(client, "member")
    page = client.get("/home").text
    # February 2025 has 28 days; 19 are left (the 10th to the 28th). The least daily d with
    # round_half_up((9 × ¥1,640 + 19 d) / 28) ≥ ¥2,000 is ¥2,170.52 (average ¥1,999.9957…,
    # which rounds to the line; ¥2,170.51 averages ¥1,999.989…).
    assert "本月截至昨日日均 ¥1,640.00，月底前每天保持 ¥2,170.52 即可达标" in page
    assert "本月已获赠保障，至 2025-02-28" in page
    assert "您2025年1月日均余额为¥3,000.00，已达到¥2,000.00" in page
    assert "没有进行中的理赔" in page


def test_a_notice_shows_as_unread_everywhere_until_the_member_marks_it_read(
    client: TestClient, db: Session, world: World, plan: Plan
) -> None:
    member_service.notify_member(db, world.member_a, "理赔材料待补充", "请补充发票", now=NOW)
    db.commit()
    login(client, "member")
    assert 'data-testid="unread-badge">1' in client.get("/insurance/me").text
    messages = client.get("/messages").text
    assert "理赔材料待补充" in messages
    unread = select(func.count()).where(
        Notification.member_id == world.member_a, Notification.read_at.is_(None)
    )
    assert db.scalar(unread) == 1, "reading the list must not mark it read"
    assert post_form(client, "/messages/read", {}).status_code == 303
    db.expire_all()
    assert db.scalar(unread) == 0
    assert "unread-badge" not in client.get("/home").text


def test_opening_an_unread_notice_marks_that_one_read_and_goes_where_it_points(
    client: TestClient, db: Session, world: World, plan: Plan
) -> None:
    member_service.notify_member(
        db, world.member_a, "理赔已受理", "请查看进度", now=NOW, link="/insurance/claims"
    )
    member_service.notify_member(db, world.member_a, "保障已生效", "本月获赠保障", now=NOW)
    db.commit()
    login(client, "member")
    cover = client.get("/insurance/me").text
    assert 'data-testid="unread-badge">2' in cover
    # 查看 on an unread notice is a form: the page that lists it marks nothing.
    assert '<input type="hidden" name="then" value="/insurance/claims">' in cover
    assert 'href="/insurance/claims">查看' not in cover
    opened = db.scalar(select(Notification.id).where(Notification.title == "理赔已受理"))
    answer = post_form(
        client, "/messages/read", {"notice_id": str(opened), "then": "/insurance/claims"}
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == "/insurance/claims"  # type: ignore[attr-defined]
    db.expire_all()
    unread = select(Notification.title).where(
        Notification.member_id == world.member_a, Notification.read_at.is_(None)
    )
    assert db.scalars(unread).all() == ["保障已生效"]
    page = client.get("/insurance/me").text
    assert 'data-testid="unread-badge">1' in page
    assert 'href="/insurance/claims">查看' in page  # read now: a plain link
    # Only a path of this site: anything else goes back to the message centre.
    for away in ("https://example.com/", "//example.com/", "/\\example.com"):
        sent = post_form(client, "/messages/read", {"notice_id": str(opened), "then": away})
        assert sent.headers["location"] == "/messages"  # type: ignore[attr-defined]
