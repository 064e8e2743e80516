"""Moving every stored ID number from one crypto scheme to the other (`gonghui pii rekey`).

Each row of the two tables that keep ID numbers (members, insured persons) is decrypted with
whatever cipher its tag names, then sealed and hashed again under the target scheme; the
second-factor secrets of the users who enrolled one are sealed again too (they have no search
hash), so that after a move to `sm` nothing sealed stays under the other scheme. It runs
in one transaction: a search hash is only useful when every row's is in the same scheme, so a
half-done rekey must never be visible. Rows already in the target scheme are left alone, so
running it twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, Column, Table, bindparam, select, update
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor
from gonghui.core.db import table_of
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import CryptoScheme
from gonghui.members.models import Member, User
from gonghui.wallet.models import Insured

_BATCH = 500


def _tables() -> list[Table]:
    return [table_of(Member), table_of(Insured)]


@dataclass(frozen=True)
class _Sealed:
    """A column of sealed values, and the search hash beside it if it has one."""

    table: Table
    cipher: str
    search_hash: str | None

    def column(self) -> Column[str]:
        return self.table.c[self.cipher]


def _sealed() -> list[_Sealed]:
    return [
        *(_Sealed(table, "id_cipher", "id_hash") for table in _tables()),
        _Sealed(table_of(User), "totp_secret", None),
    ]


@dataclass(frozen=True)
class Rekeyed:
    rows: int
    by_table: dict[str, int]


def schemes_in_use(session: Session) -> Counter[CryptoScheme]:
    """How many stored ID numbers each scheme sealed."""
    found: Counter[CryptoScheme] = Counter()
    for table in _tables():
        for (cipher,) in session.execute(select(table.c.id_cipher)):
            found[IdentityVault.scheme_of(cipher)] += 1
    return found


def rekey(
    session: Session, *, data_key: str, to: CryptoScheme, actor: Actor, now: datetime
) -> Rekeyed:
    target = IdentityVault(data_key, to)
    by_table = {sealed.table.name: _reseal(session, sealed, target) for sealed in _sealed()}
    total = sum(by_table.values())
    audit.record(
        session,
        actor=actor,
        at=now,
        action="pii.rekeyed",
        target_type="pii",
        target_id=to.value,
        after={"rows": total, **by_table},
    )
    return Rekeyed(total, by_table)


def _reseal(session: Session, sealed: _Sealed, target: IdentityVault) -> int:
    """Seal again, batch by batch in id order, every value of `sealed` not in the target's
    scheme; how many were."""
    table, column = sealed.table, sealed.column()
    values: dict[str, BindParameter[str]] = {sealed.cipher: bindparam("sealed")}
    if sealed.search_hash is not None:
        values[sealed.search_hash] = bindparam("hashed")
    statement = update(table).where(table.c.id == bindparam("row_id")).values(values)
    done = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(table.c.id, column)
            .where(table.c.id > last_id, column.is_not(None))
            .order_by(table.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return done
        last_id = rows[-1][0]
        changes = [
            _resealed(target, row_id, cipher)
            for row_id, cipher in rows
            if IdentityVault.scheme_of(cipher) is not target.scheme
        ]
        if changes:
            session.connection().execute(statement, changes)
        done += len(changes)


def _resealed(target: IdentityVault, row_id: int, cipher: str) -> dict[str, object]:
    plain = target.decrypt(cipher)
    return {"row_id": row_id, "sealed": target.encrypt(plain), "hashed": target.search_hash(plain)}
