"""Who is asking, answered for the request edge (`edge.deps.Identities`): a browser's session
and what its user must do first, a bank system's token, and the page frame's facts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor
from gonghui.core.settings import Settings
from gonghui.edge.deps import Chrome, RequiredStep, SignedIn
from gonghui.members import accounts, queries, sessions
from gonghui.members.models import User

_PASSWORD_PAGE = frozenset({"/account/password"})
STEPS = {
    sessions.Gate.CHANGE_PASSWORD: RequiredStep(
        "change_password_required", "/account/password", "请先修改初始密码", _PASSWORD_PAGE
    ),
    sessions.Gate.PASSWORD_EXPIRED: RequiredStep(
        "password_expired_required", "/account/password", "密码已过期，请先修改密码", _PASSWORD_PAGE
    ),
    sessions.Gate.ENROL_SECOND_FACTOR: RequiredStep(
        "enrol_second_factor_required",
        "/account/2fa",
        "请先启用两步验证",
        frozenset({"/account/2fa", "/account/2fa/start", "/account/2fa/confirm"}),
    ),
}


class MemberIdentities:
    def signed_in(
        self, lookup: Session, clear: str, version: int, *, now: datetime, settings: Settings
    ) -> SignedIn | None:
        idle = timedelta(minutes=settings.session_idle_minutes)
        found = sessions.user_for_session(lookup, clear, version, now, idle=idle)
        if found is None:
            return None
        user, stale = found
        gate = sessions.gate_for(user, settings, now)
        return SignedIn(accounts.actor_for(user), STEPS[gate] if gate else None, stale)

    def touch(self, side: Session, clear: str, *, now: datetime) -> None:
        sessions.touch(side, clear, now)

    def bearer(self, lookup: Session, token: str, *, now: datetime) -> tuple[Actor, bool]:
        return accounts.actor_for_token(lookup, token, now=now)

    def record_token_use(self, side: Session, actor: Actor, *, now: datetime) -> None:
        accounts.record_token_use(side, actor, now=now)

    def chrome(self, frame: Session, actor: Actor) -> Chrome:
        if actor.user_id is None:
            return Chrome()
        elder = bool(frame.scalar(select(User.elder_mode).where(User.id == actor.user_id)))
        if actor.member_id is None:
            return Chrome(elder=elder)
        return Chrome(queries.unread_notifications(frame, actor), elder, tabs=True)
