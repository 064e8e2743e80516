"""The cast every test can rely on, and helpers to act as each of them through the web."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gonghui.consents import service as consents
from gonghui.consents.rules import Purpose, Subject
from gonghui.core.auth import ADMIN_ROLES, Actor, Role
from gonghui.core.pii import IdentityVault
from gonghui.members import accounts, service
from gonghui.members.banks import register_bank
from gonghui.members.models import Card
from gonghui.members.queries import members_by_hash, units_by_credit_code
from gonghui.members.rules import (
    CardStatus,
    EmploymentStatus,
    PostType,
    id_check_character,
    parse_id_number,
    uscc_check_character,
)
from gonghui.members.service import MemberRecord, UnitRecord

PASSWORD = "correct-horse-9"
SETUP = Actor(user_id=None, username="setup", role=Role.ADMIN, display_name="测试准备")
# The security administrator's part of the setting up: administrators' accounts, API tokens.
SECURITY_SETUP = Actor(
    user_id=None, username="setup", role=Role.SECURITY_ADMIN, display_name="测试准备"
)


def make_id(region: str = "370602", birth: str = "19800115", sequence: str = "123") -> str:
    first17 = region + birth + sequence
    return first17 + id_check_character(first17)


def make_credit_code(body: str) -> str:
    first17 = ("91370602" + body).ljust(17, "0")[:17]
    return first17 + uscc_check_character(first17)


@dataclass(frozen=True)
class World:
    bank_ytb: int
    bank_qlb: int
    unit_a: int
    unit_b: int
    unit_a_code: str
    unit_b_code: str
    member_a: int
    member_a_id_number: str
    member_b: int
    member_b_id_number: str
    card_a: str
    card_b: str
    users: dict[Role, str]


def build_world(session: Session, vault: IdentityVault, now: datetime) -> World:
    ytb = register_bank(session, code="YTB", name="烟台银行", actor=SETUP, now=now)
    qlb = register_bank(session, code="QLB", name="齐鲁银行", actor=SETUP, now=now)
    code_a, code_b = make_credit_code("MA3C4A1"), make_credit_code("MA3C4B2")
    for name, code in (("烟台甲机械有限公司", code_a), ("烟台乙建设有限公司", code_b)):
        service.save_unit(
            session,
            UnitRecord(name, code, "制造业", "芝罘区", "烟台市芝罘区总工会"),
            actor=SETUP,
            now=now,
        )
    units = units_by_credit_code(session, {code_a, code_b})
    id_a, id_b = make_id(sequence="131"), make_id(birth="19720304", sequence="242")
    for name, id_number, phone, unit, post in (
        ("林建国", id_a, "13800000001", units[code_a], PostType.PRODUCTION),
        ("周秀英", id_b, "13900000002", units[code_b], PostType.MANAGEMENT_TECHNICAL),
    ):
        service.save_member(
            session,
            MemberRecord(
                name,
                parse_id_number(id_number, today=now.date()),
                phone,
                unit.id,
                post,
                EmploymentStatus.EMPLOYED,
            ),
            actor=SETUP,
            now=now,
            vault=vault,
        )
    members = members_by_hash(session, {vault.search_hash(id_a), vault.search_hash(id_b)})
    member_a, member_b = members[vault.search_hash(id_a)], members[vault.search_hash(id_b)]
    for member in (member_a, member_b):
        consents.give(
            session,
            Subject.MEMBER,
            member.id,
            Purpose.MEDICAL_DOCUMENTS,
            actor=SETUP,
            now=now,
            client="test",
        )
    session.add_all(
        [
            Card(
                card_no="6223110000000000011",
                bank_id=ytb.id,
                member_id=member_a.id,
                opened_on=date(2020, 5, 1),
                closed_on=None,
                status=CardStatus.ACTIVE,
            ),
            Card(
                card_no="6231680000000000022",
                bank_id=qlb.id,
                member_id=member_b.id,
                opened_on=date(2021, 6, 1),
                closed_on=None,
                status=CardStatus.ACTIVE,
            ),
        ]
    )
    users = {role: role.value for role in Role}
    for role, username in users.items():
        accounts.create_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            display_name=f"测试{role.label}",
            unit=units[code_a] if role is Role.UNIT_OFFICER else None,
            bank=ytb if role is Role.BANK_OPERATOR else None,
            member=member_a if role is Role.MEMBER else None,
            password_is_initial=False,
            actor=SECURITY_SETUP if role in ADMIN_ROLES else SETUP,
            now=now,
        )
    return World(
        bank_ytb=ytb.id,
        bank_qlb=qlb.id,
        unit_a=units[code_a].id,
        unit_b=units[code_b].id,
        unit_a_code=code_a,
        unit_b_code=code_b,
        member_a=member_a.id,
        member_a_id_number=id_a,
        member_b=member_b.id,
        member_b_id_number=id_b,
        card_a="6223110000000000011",
        card_b="6231680000000000022",
        users=users,
    )


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/login") -> str:
    match = _CSRF.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def post_form(client: TestClient, path: str, data: dict[str, str], **kwargs: object) -> object:
    token = csrf_of(client, "/home")
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False, **kwargs)
