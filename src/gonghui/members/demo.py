"""A realistic synthetic federation for demos and tests: deterministic from a seed.

One city's federation (Yantai's districts and its two partner banks, as the seed article
names them), about 200 units, N members with valid ID numbers and phones, cards from both
banks, and one login per role.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from faker import Faker
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import ADMIN_ROLES, Actor, Role
from gonghui.core.clock import business_date
from gonghui.core.inputs import Sex, id_check_character, uscc_check_character
from gonghui.core.pii import IdentityVault, mask_id_number
from gonghui.members import accounts
from gonghui.members.banks import register_bank
from gonghui.members.models import Bank, Card, Member, MembershipChange, Unit
from gonghui.members.rules import CardStatus, EmploymentStatus, MembershipStatus, PostType

# Printed on purpose (demo data only); it meets the staff password rules.
DEMO_PASSWORD = "Gonghui@2025"  # noqa: S105
DEFAULT_MEMBERS = 10_000
DEFAULT_UNITS = 200

# Districts of Yantai with their GB/T 2260 codes (the first six digits of local ID numbers).
DISTRICTS = {
    "芝罘区": "370602",
    "福山区": "370611",
    "牟平区": "370612",
    "莱山区": "370613",
    "蓬莱区": "370614",
    "龙口市": "370681",
    "莱阳市": "370682",
    "莱州市": "370683",
    "招远市": "370685",
    "栖霞市": "370686",
    "海阳市": "370687",
}
INDUSTRIES = {
    "制造业": ("机械", "汽车零部件", "电子", "食品", "化工", "精密制造"),
    "建筑业": ("建设", "建工", "路桥", "安装工程"),
    "批发和零售业": ("商贸", "百货", "物流配送"),
    "交通运输、仓储和邮政业": ("运输", "港务", "快递"),
    "信息传输、软件和信息技术服务业": ("软件", "信息技术", "网络科技"),
    "卫生和社会工作": ("医院", "康养"),
    "教育": ("职业学校", "培训学校"),
    "住宿和餐饮业": ("酒店", "餐饮管理"),
    "电力、热力、燃气及水生产和供应业": ("热电", "燃气", "水务"),
}
BANKS = (("YTB", "烟台银行", "622311"), ("QLB", "齐鲁银行", "623168"))


@dataclass(frozen=True)
class Persona:
    username: str
    role: Role
    display_name: str


PERSONAS = (
    Persona("admin", Role.ADMIN, "系统管理员"),
    Persona("security", Role.SECURITY_ADMIN, "安全管理员"),
    Persona("auditor", Role.AUDIT_ADMIN, "审计管理员"),
    Persona("staff", Role.FEDERATION_STAFF, "市总工会 王敏"),
    Persona("officer", Role.UNIT_OFFICER, "单位工会主席 李强"),
    Persona("member", Role.MEMBER, ""),
    Persona("bank", Role.BANK_OPERATOR, "烟台银行 张丽"),
    Persona("adjuster", Role.INSURER_ADJUSTER, "保险理赔员 赵刚"),
    Persona("station", Role.STATION_MANAGER, "职工驿站 刘芳"),
    Persona("agency", Role.INSURANCE_AGENCY, "医保经办 陈静"),
)

Progress = Callable[[str, int, int], None]


def _luhn_digit(number: str) -> str:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0  # noqa: PLR2004 - Luhn's digit sum
        total += digit
    return str((10 - total % 10) % 10)


class _Generator:
    def __init__(self, seed: int, today: date) -> None:
        self.random = random.Random(seed)  # noqa: S311 - synthetic data, not security
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(seed)
        self.today = today
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.codes: set[str] = set()

    def credit_code(self, region: str) -> str:
        while True:
            # 9 = registered by market regulation, 1 = enterprise; then region and org code.
            body = (
                "91"
                + region
                + "".join(self.random.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
            )
            code = body + uscc_check_character(body)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def id_number(self, region: str, birth: date, sex: Sex) -> str:
        while True:
            sequence = self.random.randrange(0, 100) * 10 + self.random.choice(
                (1, 3, 5, 7, 9) if sex is Sex.MALE else (0, 2, 4, 6, 8)
            )
            first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
            value = first17 + id_check_character(first17)
            if value not in self.ids:
                self.ids.add(value)
                return value

    def phone(self) -> str:
        while True:
            value = self.random.choice(("13", "15", "18", "17", "19")) + "".join(
                str(self.random.randrange(10)) for _ in range(9)
            )
            if value not in self.phones:
                self.phones.add(value)
                return value

    def birth_date(self) -> date:
        # Working-age members: 18 to 62 years old today, weighted to the middle.
        age_days = int(self.random.triangular(18 * 365.25, 62 * 365.25, 40 * 365.25))
        return self.today - timedelta(days=age_days)


def is_empty(session: Session) -> bool:
    return session.scalars(select(Unit.id).limit(1)).first() is None


def load(
    session: Session,
    *,
    vault: IdentityVault,
    now: datetime,
    members: int = DEFAULT_MEMBERS,
    units: int = DEFAULT_UNITS,
    seed: int = 2025,
    progress: Progress | None = None,
) -> list[Persona]:
    """Fill an empty database with the demo federation; returns the personas created."""
    gen = _Generator(seed, business_date(now))
    banks = [
        register_bank(
            session, code=code, name=name, prefixes=[prefix], actor=accounts_system(), now=now
        )
        for code, name, prefix in BANKS
    ]
    unit_rows = _units(session, gen, now, min(units, max(members, 1)))
    member_ids = _members(session, gen, vault, now, unit_rows, members, progress)
    _cards(session, gen, banks, member_ids, business_date(now))
    personas = _personas(session, unit_rows[0], banks[0], now)
    audit.record(
        session,
        actor=accounts_system(),
        at=now,
        action="demo.loaded",
        target_type="federation",
        target_id="demo",
        after={"units": len(unit_rows), "members": members, "seed": seed},
    )
    session.flush()
    return personas


def accounts_system() -> Actor:
    return Actor(user_id=None, username="demo", role=Role.ADMIN, display_name="演示数据")


def _units(session: Session, gen: _Generator, now: datetime, count: int) -> list[Unit]:
    rows = []
    district_names = list(DISTRICTS)
    for _ in range(count):
        district = gen.random.choice(district_names)
        industry = gen.random.choice(list(INDUSTRIES))
        trade = gen.random.choice(INDUSTRIES[industry])
        suffix = "" if trade.endswith(("医院", "学校")) else "有限公司"
        name = f"烟台{gen.faker.company_prefix()}{trade}{suffix}"
        rows.append(
            Unit(
                name=name,
                credit_code=gen.credit_code(DISTRICTS[district]),
                industry=industry,
                district=district,
                parent_union=f"烟台市{district}总工会",
                created_at=now,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def _members(
    session: Session,
    gen: _Generator,
    vault: IdentityVault,
    now: datetime,
    units: list[Unit],
    count: int,
    progress: Progress | None,
) -> list[int]:
    regions = list(DISTRICTS.values())
    batch: list[dict[str, object]] = []
    ids: list[int] = []
    # A few big employers, many small ones: units are drawn with decreasing weight.
    weights = [1 / (rank + 1) ** 0.6 for rank in range(len(units))]
    chosen_units = gen.random.choices(units, weights=weights, k=count)
    for index, unit in enumerate(chosen_units, start=1):
        sex = gen.random.choice((Sex.MALE, Sex.FEMALE))
        birth = gen.birth_date()
        id_number = gen.id_number(gen.random.choice(regions), birth, sex)
        batch.append(_member_row(gen, vault, now, unit, id_number, birth, sex))
        if len(batch) == 1000 or index == count:  # noqa: PLR2004 - insert batch size
            ids.extend(_insert_members(session, batch, now))
            batch = []
            if progress is not None:
                progress("会员", index, count)
    return ids


def _member_row(
    gen: _Generator,
    vault: IdentityVault,
    now: datetime,
    unit: Unit,
    id_number: str,
    birth: date,
    sex: Sex,
) -> dict[str, object]:
    age = (business_date(now) - birth).days / 365.25
    employment = EmploymentStatus.EMPLOYED
    if age > 58 and gen.random.random() < 0.3:  # noqa: PLR2004
        employment = gen.random.choice((EmploymentStatus.REHIRED, EmploymentStatus.RETIRED))
    elif age > 52 and gen.random.random() < 0.05:  # noqa: PLR2004
        employment = EmploymentStatus.EARLY_LEAVE
    return {
        "name": gen.faker.name(),
        "id_hash": vault.search_hash(id_number),
        "id_cipher": vault.encrypt(id_number),
        "id_masked": mask_id_number(id_number),
        "birth_date": birth,
        "sex": sex,
        "phone": gen.phone(),
        "unit_id": unit.id,
        "post_type": PostType.PRODUCTION
        if gen.random.random() < 0.6  # noqa: PLR2004
        else PostType.MANAGEMENT_TECHNICAL,
        "employment_status": employment,
        "membership_status": MembershipStatus.ACTIVE,
        "created_at": now,
        "updated_at": now,
    }


def _insert_members(session: Session, batch: list[dict[str, object]], now: datetime) -> list[int]:
    ids = list(session.scalars(insert(Member).returning(Member.id), batch))
    session.execute(
        insert(MembershipChange),
        [
            {
                "member_id": member_id,
                "from_status": None,
                "to_status": MembershipStatus.ACTIVE,
                "reason": "入会登记",
                "at": now,
                "actor_label": "demo",
            }
            for member_id in ids
        ],
    )
    return ids


def _cards(
    session: Session, gen: _Generator, banks: list[Bank], member_ids: list[int], today: date
) -> None:
    rows = []
    for member_id in member_ids:
        # Most members hold a card; a member with cards from both banks is rare but real.
        if gen.random.random() > 0.75:  # noqa: PLR2004
            continue
        bank_index = 0 if gen.random.random() < 0.6 else 1  # noqa: PLR2004
        bin_prefix = BANKS[bank_index][2]
        body = bin_prefix + f"{member_id:012d}"
        opened = today - timedelta(days=gen.random.randrange(30, 8 * 365))
        rows.append(
            {
                "card_no": body + _luhn_digit(body),
                "bank_id": banks[bank_index].id,
                "member_id": member_id,
                "opened_on": opened,
                "closed_on": None,
                "status": CardStatus.ACTIVE,
            }
        )
    for start in range(0, len(rows), 2000):
        session.execute(insert(Card), rows[start : start + 2000])


def _personas(session: Session, unit: Unit, bank: Bank, now: datetime) -> list[Persona]:
    actor = accounts_system()
    # Administrators' accounts are the security administrator's to open (三权分立).
    security = Actor(
        user_id=None, username="demo", role=Role.SECURITY_ADMIN, display_name="演示数据"
    )
    # The member persona belongs to the officer persona's unit and holds a card of the bank
    # persona's bank.
    member = session.scalars(
        select(Member)
        .join(Card, Card.member_id == Member.id)
        .where(Member.unit_id == unit.id, Card.bank_id == bank.id)
        .order_by(Member.id)
        .limit(1)
    ).first()
    created = []
    for persona in PERSONAS:
        if persona.role is Role.MEMBER and member is None:
            continue
        accounts.create_user(
            session,
            username=persona.username,
            password=DEMO_PASSWORD,
            role=persona.role,
            display_name=persona.display_name or (member.name if member else persona.username),
            unit=unit if persona.role is Role.UNIT_OFFICER else None,
            bank=bank if persona.role is Role.BANK_OPERATOR else None,
            member=member if persona.role is Role.MEMBER else None,
            # The demo's one published password: changing it at first sign-in would lock the
            # next visitor out.
            password_is_initial=False,
            actor=security if persona.role in ADMIN_ROLES else actor,
            now=now,
        )
        created.append(persona)
    return created
