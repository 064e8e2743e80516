"""`gonghui pii rekey`: every stored ID number moves between AES-GCM/HMAC-SHA256 and
SM4-GCM/HMAC-SM3, and people are still found by their full number afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gonghui.cli import app as cli_app
from gonghui.core.db import make_engine
from gonghui.core.migrate import alembic_config
from gonghui.core.pii import IdentityVault, vault_for
from gonghui.core.settings import CryptoScheme, Settings
from gonghui.members import queries as member_queries
from gonghui.members.models import Member, User
from gonghui.rekey import rekey, schemes_in_use
from gonghui.wallet import queries as wallet_queries
from gonghui.wallet.models import Insured
from tests.conftest import NOW
from tests.wallet.scenario import MOTHER_ID, build_family
from tests.world import SETUP, World, build_world


def _other(scheme: CryptoScheme) -> CryptoScheme:
    return CryptoScheme.SM if scheme is CryptoScheme.DEFAULT else CryptoScheme.DEFAULT


def _finds(db: Session, vault: IdentityVault, world: World) -> tuple[bool, bool]:
    member = member_queries.search_members(
        db, SETUP, vault, member_queries.RollFilter(world.member_b_id_number)
    )
    insured = wallet_queries.registry(db, SETUP, vault, MOTHER_ID)
    return (
        [m.id for m in member.items] == [world.member_b],
        len(insured.items) == 1,
    )


def test_a_populated_database_rekeys_both_ways_and_searches_still_find_people(
    db: Session, world: World, vault: IdentityVault, settings: Settings
) -> None:
    build_family(db, world, vault, NOW)
    key = settings.data_key.get_secret_value()
    start, other = vault.scheme, _other(vault.scheme)
    there, back = IdentityVault(key, other), IdentityVault(key, start)
    assert _finds(db, vault, world) == (True, True)

    moved = rekey(db, data_key=key, to=other, actor=SETUP, now=NOW)
    assert moved.rows == schemes_in_use(db)[other] >= 5  # two members, three insured
    assert schemes_in_use(db)[start] == 0
    assert _finds(db, there, world) == (True, True)
    assert _finds(db, back, world) == (False, False)  # the old hashes are gone
    cipher = db.scalars(select(Member.id_cipher).where(Member.id == world.member_b)).one()
    assert cipher.startswith("sm4:") is (other is CryptoScheme.SM)
    assert there.decrypt(cipher) == world.member_b_id_number
    assert rekey(db, data_key=key, to=other, actor=SETUP, now=NOW).rows == 0

    rekey(db, data_key=key, to=start, actor=SETUP, now=NOW)
    assert _finds(db, back, world) == (True, True)
    mother = db.scalars(select(Insured).where(Insured.name == "王桂兰")).one()
    assert back.decrypt(mother.id_cipher) == MOTHER_ID


def test_the_two_schemes_hash_and_seal_differently() -> None:
    default, sm = IdentityVault("k"), IdentityVault("k", CryptoScheme.SM)
    number = "37060219800115131X"
    assert default.search_hash(number) != sm.search_hash(number)
    assert len(sm.search_hash(number)) == 64  # SM3 is 256 bits, as the column expects
    sealed = sm.encrypt(number)
    assert sealed.startswith("sm4:")
    assert not default.encrypt(number).startswith("sm4:")
    # Either vault opens either tag: a rekey reads with the scheme the row names.
    assert default.decrypt(sealed) == number
    assert IdentityVault("other-key", CryptoScheme.SM).search_hash(number) != sm.search_hash(number)


def test_the_cli_rekeys_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'rekey.db'}"
    monkeypatch.setenv("GONGHUI_DATABASE_URL", url)
    monkeypatch.setenv("GONGHUI_CRYPTO", "default")
    engine = make_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(url, connection), "heads")
    settings = Settings(database_url=url)
    with Session(engine) as session, session.begin():
        build_world(session, vault_for(settings), NOW)
    runner = CliRunner()
    moved = runner.invoke(cli_app, ["pii", "rekey", "--to", "sm"])
    assert moved.exit_code == 0, moved.output
    assert "已转换 2 条" in moved.output
    assert "GONGHUI_CRYPTO 设为 sm" in moved.output
    status = runner.invoke(cli_app, ["pii", "status"])
    assert "sm（SM4-GCM / HMAC-SM3）：2 条" in status.output
    engine.dispose()


def test_second_factor_secrets_move_with_the_id_numbers(
    db: Session, world: World, vault: IdentityVault, settings: Settings
) -> None:
    # An enrolled user's TOTP secret is sealed by the same vault: after a move to the other
    # scheme nothing sealed may stay under the old one, and the secret must still open.
    key = settings.data_key.get_secret_value()
    other = _other(vault.scheme)
    user = db.scalars(select(User).order_by(User.id).limit(1)).one()
    user.totp_secret = vault.encrypt("JBSWY3DPEHPK3PXP")
    db.flush()

    moved = rekey(db, data_key=key, to=other, actor=SETUP, now=NOW)
    assert moved.by_table["users"] == 1
    db.refresh(user)
    assert user.totp_secret is not None
    assert IdentityVault.scheme_of(user.totp_secret) is other
    assert IdentityVault(key, other).decrypt(user.totp_secret) == "JBSWY3DPEHPK3PXP"
    assert rekey(db, data_key=key, to=other, actor=SETUP, now=NOW).by_table["users"] == 0
