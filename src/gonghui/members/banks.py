"""Partner banks (合作银行): registered with the card number prefixes they issue, renamed,
retired. The demo registers its banks through the same functions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor, Permission
from gonghui.core.clock import business_date
from gonghui.core.errors import Conflict, InvalidInput
from gonghui.members.models import Bank, BankCardPrefix

_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")
# A BIN (发卡行识别码) is six digits, eight under the newer ISO/IEC 7812 numbering; a bank may
# keep a longer prefix for its union-card range.
_PREFIX = re.compile(r"[0-9]{4,10}")
MAX_NAME = 64


@dataclass(frozen=True)
class BankView:
    id: int
    code: str
    name: str
    prefixes: tuple[str, ...]
    retired_on: date | None

    @property
    def active(self) -> bool:
        return self.retired_on is None


def parse_prefixes(text: str | Iterable[str]) -> list[str]:
    """Prefixes from a form field or CLI options: separated by commas, spaces or 、."""
    parts = re.split(r"[\s,，、;；]+", text) if isinstance(text, str) else list(text)
    # A Chinese input method types full-width digits (６２２３１１): read them as digits.
    prefixes = [unicodedata.normalize("NFKC", part).strip() for part in parts if part.strip()]
    bad = [prefix for prefix in prefixes if not _PREFIX.fullmatch(prefix)]
    if bad:
        raise InvalidInput("bad_prefix", f"卡号前缀应为4至10位数字：{'、'.join(bad)}")
    return sorted(set(prefixes))


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput("name_required", "请填写银行名称")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput("name_too_long", f"银行名称不能超过{MAX_NAME}个字")
    return cleaned


def _check_code(code: str) -> str:
    cleaned = code.strip().upper()
    if not _CODE.fullmatch(cleaned):
        raise InvalidInput("bad_bank_code", "银行代码应为2至16位大写字母或数字，以字母开头，如 YTB")
    return cleaned


def _check_prefixes_free(session: Session, bank_id: int | None, prefixes: Sequence[str]) -> None:
    """A card number must point to one bank: no prefix may equal, extend or be extended by
    another bank's."""
    others = session.execute(
        select(BankCardPrefix.prefix, Bank.name)
        .join(Bank, Bank.id == BankCardPrefix.bank_id)
        .where(BankCardPrefix.bank_id != (bank_id or 0))
    ).all()
    clashes = [
        f"{prefix}（与{name}的 {other} 重叠）"
        for prefix in prefixes
        for other, name in others
        if prefix.startswith(other) or other.startswith(prefix)
    ]
    if clashes:
        raise Conflict("prefix_taken", f"卡号前缀已属于其他银行：{'；'.join(clashes)}")


def _name_free(session: Session, name: str, bank_id: int | None) -> None:
    holder = session.scalars(select(Bank.id).where(Bank.name == name)).first()
    if holder is not None and holder != bank_id:
        raise Conflict("bank_name_taken", f"银行名称“{name}”已存在")


def register_bank(
    session: Session,
    *,
    code: str,
    name: str,
    prefixes: Sequence[str] = (),
    actor: Actor,
    now: datetime,
) -> Bank:
    actor.require(Permission.BANKS_MANAGE)
    code, name = _check_code(code), _check_name(name)
    prefixes = parse_prefixes(prefixes)
    if session.scalars(select(Bank.id).where(Bank.code == code)).first() is not None:
        raise Conflict("bank_exists", f"银行代码 {code} 已存在")
    _name_free(session, name, None)
    _check_prefixes_free(session, None, prefixes)
    bank = Bank(code=code, name=name, retired_on=None)
    session.add(bank)
    session.flush()
    session.add_all(BankCardPrefix(bank_id=bank.id, prefix=prefix) for prefix in prefixes)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="bank.registered",
        target_type="bank",
        target_id=bank.id,
        after={"code": code, "name": name, "prefixes": prefixes},
    )
    return bank


def update_bank(
    session: Session,
    bank: Bank,
    *,
    name: str,
    prefixes: Sequence[str],
    actor: Actor,
    now: datetime,
) -> None:
    """Rename a bank and set the prefixes it issues; cards already issued stay as they are."""
    actor.require(Permission.BANKS_MANAGE)
    if bank.retired_on is not None:
        raise Conflict("bank_retired", f"{bank.name}已于 {bank.retired_on} 停止合作，不能再修改")
    name, prefixes = _check_name(name), parse_prefixes(prefixes)
    _name_free(session, name, bank.id)
    _check_prefixes_free(session, bank.id, prefixes)
    before = {"name": bank.name, "prefixes": list(prefixes_of(session, bank.id))}
    after = {"name": name, "prefixes": prefixes}
    if before == after:
        return
    bank.name = name
    session.execute(delete(BankCardPrefix).where(BankCardPrefix.bank_id == bank.id))
    session.add_all(BankCardPrefix(bank_id=bank.id, prefix=prefix) for prefix in prefixes)
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="bank.updated",
        target_type="bank",
        target_id=bank.id,
        before=before,
        after=after,
    )


def retire_bank(
    session: Session, bank: Bank, on: date | None = None, *, actor: Actor, now: datetime
) -> None:
    """End a bank's partnership from a day on (today in Beijing unless given): from then it
    issues no new cards, its tokens stop and the assessment no longer reads its cards."""
    actor.require(Permission.BANKS_MANAGE)
    if bank.retired_on is not None:
        raise Conflict("bank_retired", f"{bank.name}已于 {bank.retired_on} 停止合作")
    day = on or business_date(now)
    if day < business_date(now):
        raise InvalidInput("bad_retire_date", "停止合作日期不能早于今天")
    bank.retired_on = day
    session.flush()
    audit.record(
        session,
        actor=actor,
        at=now,
        action="bank.retired",
        target_type="bank",
        target_id=bank.id,
        after={"retired_on": day.isoformat()},
    )


def prefixes_of(session: Session, bank_id: int) -> tuple[str, ...]:
    return tuple(
        session.scalars(
            select(BankCardPrefix.prefix)
            .where(BankCardPrefix.bank_id == bank_id)
            .order_by(BankCardPrefix.prefix)
        )
    )


def bank_views(session: Session) -> list[BankView]:
    prefixes: dict[int, list[str]] = {}
    for bank_id, prefix in session.execute(
        select(BankCardPrefix.bank_id, BankCardPrefix.prefix).order_by(BankCardPrefix.prefix)
    ):
        prefixes.setdefault(bank_id, []).append(prefix)
    return [
        BankView(bank.id, bank.code, bank.name, tuple(prefixes.get(bank.id, ())), bank.retired_on)
        for bank in session.scalars(select(Bank).order_by(Bank.id))
    ]


def bank_by_code(session: Session, code: str) -> Bank:
    bank = session.scalars(select(Bank).where(Bank.code == code.strip().upper())).one_or_none()
    if bank is None:
        raise InvalidInput("unknown_bank", f"银行代码 {code.strip()} 不存在，请先登记合作银行")
    return bank


def is_retired(bank: Bank, day: date) -> bool:
    return bank.retired_on is not None and bank.retired_on <= day
