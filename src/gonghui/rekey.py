"""Moving every stored ID number from one crypto scheme to the other (`gonghui pii rekey`).

Each row of the two tables that keep ID numbers (members, insured persons) is decrypted with
whatever cipher its tag names, then sealed and hashed again under the target scheme. It runs
in one transaction: a search hash is only useful when every row's is in the same scheme, so a
half-done rekey must never be visible. Rows already in the target scheme are left alone, so
running it twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.auth import Actor
from gonghui.core.db import table_of
from gonghui.core.pii import IdentityVault
from gonghui.core.settings import CryptoScheme
from gonghui.members.models import Member
from gonghui.wallet.models import Insured

_BATCH = 500


def _tables() -> list[Table]:
    return [table_of(Member), table_of(Insured)]


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
    by_table: dict[str, int] = {}
    for table in _tables():
        done = 0
        last_id = 0
        while True:
            rows = session.execute(
                select(table.c.id, table.c.id_cipher)
                .where(table.c.id > last_id)
                .order_by(table.c.id)
                .limit(_BATCH)
            ).all()
            if not rows:
                break
            last_id = rows[-1].id
            changes = [
                {"row_id": row.id, **_resealed(target, row.id_cipher)}
                for row in rows
                if IdentityVault.scheme_of(row.id_cipher) is not to
            ]
            if changes:
                session.connection().execute(
                    update(table)
                    .where(table.c.id == bindparam("row_id"))
                    .values(id_hash=bindparam("id_hash"), id_cipher=bindparam("id_cipher")),
                    changes,
                )
            done += len(changes)
        by_table[table.name] = done
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


def _resealed(target: IdentityVault, cipher: str) -> dict[str, str]:
    plain = target.decrypt(cipher)
    return {"id_hash": target.search_hash(plain), "id_cipher": target.encrypt(plain)}
