"""wallet transfer functions (PostgreSQL)

Revision ID: e5b1d7a3c9f4
Revises: b7e3c9a1d5f2
Create Date: 2026-12-05 07:50:00.000000

The common path of a transfer's submit and accept, each one call of a function on PostgreSQL
(see `wallet.one_call`). Nothing on SQLite, where the service sends the statements itself. Each
function claims the request's idempotency key first and answers 'answered' if the key was used
before, 'claimed' (having written nothing but the claim) when anything is off the common path,
and 'done' when it has made every row the service's own statements would: the transfer and its
event, the balances, the posting and its entries, the audit row, the key's answer, and the
audit row's canonical bytes for its link onto the chain, which a deferred trigger makes as the
transaction commits (the chain head's lock is the last a transaction takes, and is held for the
commit alone). The transfer rules stay in Python: the submit function goes on only if the facts
it read under the locks pass its guard, and returns them for the service to check against
`rules.transfer_refusals` before anything commits."""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b1d7a3c9f4"
down_revision: str | None = "b7e3c9a1d5f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# A UTC instant as Python's `datetime.isoformat()` writes it (the receipts a request's
# idempotency key answers with: `transfers.receipt`).
_ISOFORMAT = """
CREATE OR REPLACE FUNCTION gonghui_isoformat(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
  || CASE WHEN extract(microseconds FROM p_at) % 1000000 = 0 THEN ''
     ELSE to_char(p_at AT TIME ZONE 'UTC', '.US') END
  || '+00:00'
$$
"""

# An audit row's bytes as `audit_chain.canonical` makes them (sorted keys, no spaces, the
# instant as UTC ISO text with microseconds; `before` and `after` given as such JSON already),
# and its link onto the chain as `audit_chain._LINK_ALL` makes it: the head locked, SHA-256 over
# "seq:prev_hash:" and the bytes. to_json escapes a string as Python's json.dumps does with
# ensure_ascii off. `audit_chain.verify` checks both in Python.
_CANONICAL = """
CREATE OR REPLACE FUNCTION gonghui_audit_canonical(p_id bigint, p_at timestamptz,
  p_user bigint, p_token bigint, p_label text, p_action text, p_target_type text,
  p_target_id text, p_before text, p_after text) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
SELECT convert_to('{"action":' || to_json(p_action)::text
  || ',"actor_label":' || to_json(p_label)::text
  || ',"actor_token_id":' || coalesce(p_token::text, 'null')
  || ',"actor_user_id":' || coalesce(p_user::text, 'null')
  || ',"after":' || coalesce(p_after, 'null')
  || ',"at":"' || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00"'
  || ',"before":' || coalesce(p_before, 'null')
  || ',"id":' || p_id
  || ',"target_id":' || to_json(p_target_id)::text
  || ',"target_type":' || to_json(p_target_type)::text || '}', 'UTF8')
$$
"""

# The link at commit: a deferred trigger on `audit_links_due` (a row per audit row a function
# wrote, with its canonical bytes) links the row and removes it as the transaction commits, so
# that the chain head's lock, which every writing transaction queues for, is held for the commit
# alone and never while the client is still at work.
_LINK_DUE = """
CREATE OR REPLACE FUNCTION gonghui_audit_link_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM gonghui_audit_link(NEW.audit_id, NEW.content);
  DELETE FROM audit_links_due WHERE audit_id = NEW.audit_id;
  RETURN NULL;
END $$
"""
_LINK_AT_COMMIT = (
    "CREATE CONSTRAINT TRIGGER audit_links_due_at_commit AFTER INSERT ON audit_links_due "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gonghui_audit_link_due()"
)

_LINK = """
CREATE OR REPLACE FUNCTION gonghui_audit_link(p_audit_id bigint, p_content bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_seq bigint;
  v_hash text;
  v_next text;
BEGIN
  SELECT seq, hash INTO v_seq, v_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
  v_next := encode(sha256(convert_to((v_seq + 1)::text || ':' || v_hash || ':', 'UTF8')
    || p_content), 'hex');
  INSERT INTO audit_chain (seq, audit_id, prev_hash, hash)
    VALUES (v_seq + 1, p_audit_id, v_hash, v_next);
  UPDATE audit_chain_head SET seq = v_seq + 1, hash = v_next WHERE id = 1;
END $$
"""

# The two functions spell their common steps (the claim, the accounts, the posting, the audit
# row, the answer) each in full: as helper functions they cost the server some 13 % of the
# pair's rate (measured with `benchmarks/bench_wallet_transfers.py`, alternating runs).
#
# The lock order is the service's (module docstring of `wallet.transfers`): the relationship or
# the transfer row first, then the two accounts in ascending id order. A missing held or quota
# account (a giver's first transfer, a recipient's first from this giver) is created first, as
# `ledger.lock` does, then both are locked.
_SUBMIT = """
CREATE OR REPLACE FUNCTION wallet_submit_transfer(
  p_scope text, p_key text, p_request_hash text, p_giver bigint, p_recipient bigint,
  p_giver_region bigint, p_amount bigint, p_verification text, p_now timestamptz,
  p_today date, p_release_at timestamptz, p_per_day integer, p_event_label text,
  p_reset_wallet bigint, p_audit_user bigint, p_audit_token bigint, p_audit_label text,
  p_audit_after text)
RETURNS TABLE (outcome text, new_transfer bigint, new_posting bigint,
  giver_opened date, recipient_opened date, recipient_insured boolean,
  in_force bigint, sent_today bigint, pending_count bigint, personal_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_due boolean;
  v_personal bigint;
  v_held bigint;
  v_audit bigint;
BEGIN
  INSERT INTO wallet_requests (scope, key, operation, request_hash, result, created_at)
  VALUES (p_scope, p_key, 'submit', p_request_hash, 'null', p_now)
  ON CONFLICT (scope, key) DO NOTHING;
  IF NOT FOUND THEN
    outcome := 'answered';
    RETURN NEXT;
    RETURN;
  END IF;
  outcome := 'claimed';
  SELECT r.id, EXISTS (SELECT 1 FROM wallet_transfers t WHERE t.giver_id = p_giver
      AND t.status = 'pending' AND t.release_at <= p_now)
    INTO in_force, v_due
    FROM wallet_relationships r
    WHERE r.giver_id = p_giver AND r.recipient_id = p_recipient AND r.status = 'active'
    FOR UPDATE OF r;
  IF in_force IS NULL OR v_due THEN
    RETURN NEXT;  -- refused, or a due transfer to return first: the service's own path
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM wallet_accounts a WHERE a.key = 'held:' || p_giver) THEN
    INSERT INTO wallet_accounts (key, kind, insured_id, giver_id, balance_fen, created_at)
    VALUES ('held:' || p_giver, 'held', p_giver, NULL, 0, p_now)
    ON CONFLICT (key) DO NOTHING;
  END IF;
  PERFORM 1 FROM wallet_accounts a WHERE a.key IN ('personal:' || p_giver, 'held:' || p_giver)
    ORDER BY a.id FOR UPDATE;
  SELECT a.id, a.balance_fen INTO v_personal, personal_balance
    FROM wallet_accounts a WHERE a.key = 'personal:' || p_giver;
  SELECT a.id INTO v_held FROM wallet_accounts a WHERE a.key = 'held:' || p_giver;
  SELECT
    (SELECT g.wallet_opened_on FROM wallet_regions g WHERE g.id = p_giver_region),
    (SELECT g.wallet_opened_on FROM wallet_regions g
       JOIN wallet_insured i ON i.region_id = g.id WHERE i.id = p_recipient),
    EXISTS (SELECT 1 FROM wallet_insured i WHERE i.id = p_recipient AND i.ended_on IS NULL),
    (SELECT count(*) FROM wallet_transfers t
       WHERE t.giver_id = p_giver AND t.business_date = p_today),
    (SELECT count(*) FROM wallet_transfers t
       WHERE t.giver_id = p_giver AND t.status = 'pending')
    INTO giver_opened, recipient_opened, recipient_insured, sent_today, pending_count;
  IF v_personal IS NULL OR giver_opened IS NULL OR giver_opened > p_today
      OR recipient_opened IS NULL OR recipient_opened > p_today OR NOT recipient_insured
      OR sent_today >= p_per_day OR pending_count > 0 OR personal_balance < p_amount THEN
    RETURN NEXT;  -- a rule refuses: the service's own path says which
    RETURN;
  END IF;
  INSERT INTO wallet_transfers (giver_id, recipient_id, relationship_id, amount_fen, status,
      verification, submitted_at, business_date, release_at, decided_at)
    VALUES (p_giver, p_recipient, in_force, p_amount, 'pending', p_verification, p_now,
      p_today, p_release_at, NULL)
    RETURNING id INTO new_transfer;
  INSERT INTO wallet_transfer_events (transfer_id, from_status, to_status, at, actor_label)
    VALUES (new_transfer, NULL, 'pending', p_now, p_event_label);
  UPDATE wallet_accounts SET balance_fen = balance_fen - p_amount
    WHERE id = v_personal AND balance_fen - p_amount >= 0;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'wallet_submit_transfer: balance moved under its lock';
  END IF;
  UPDATE wallet_accounts SET balance_fen = balance_fen + p_amount WHERE id = v_held;
  INSERT INTO wallet_postings (kind, transfer_id, at, actor_label, memo)
    VALUES ('hold', new_transfer, p_now, p_event_label, '')
    RETURNING id INTO new_posting;
  INSERT INTO wallet_entries (posting_id, account_id, amount_fen)
    VALUES (new_posting, v_personal, -p_amount), (new_posting, v_held, p_amount);
  INSERT INTO audit_log (at, actor_user_id, actor_token_id, actor_label, action, target_type,
      target_id, before, after)
    VALUES (p_now, p_audit_user, p_audit_token, p_audit_label, 'wallet.transfer_submitted',
      'wallet_transfer', new_transfer::text, 'null', p_audit_after::json)
    RETURNING id INTO v_audit;
  UPDATE wallet_requests SET result = json_build_object('transfer_id', new_transfer,
      'status', 'pending', 'amount_fen', p_amount, 'giver_id', p_giver,
      'recipient_id', p_recipient, 'submitted_at', gonghui_isoformat(p_now),
      'release_at', gonghui_isoformat(p_release_at))
    WHERE scope = p_scope AND key = p_key;
  IF p_reset_wallet IS NOT NULL THEN
    UPDATE wallet_wallets SET password_failures = 0 WHERE id = p_reset_wallet;
  END IF;
  INSERT INTO audit_links_due (audit_id, content) VALUES (v_audit, gonghui_audit_canonical(
    v_audit, p_now, p_audit_user, p_audit_token, p_audit_label, 'wallet.transfer_submitted',
    'wallet_transfer', new_transfer::text, NULL, p_audit_after));
  outcome := 'done';
  RETURN NEXT;
END $$
"""

_ACCEPT = """
CREATE OR REPLACE FUNCTION wallet_accept_transfer(
  p_scope text, p_key text, p_request_hash text, p_transfer bigint, p_user bigint,
  p_member bigint, p_now timestamptz, p_event_label text, p_audit_user bigint,
  p_audit_token bigint, p_audit_label text)
RETURNS TABLE (outcome text, accepted_amount bigint, accepted_giver bigint,
  accepted_recipient bigint, accepted_submitted_at timestamptz, accepted_release_at timestamptz,
  new_posting bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_held bigint;
  v_quota bigint;
  v_quota_key text;
  v_after text;
  v_audit bigint;
BEGIN
  INSERT INTO wallet_requests (scope, key, operation, request_hash, result, created_at)
  VALUES (p_scope, p_key, 'accept', p_request_hash, 'null', p_now)
  ON CONFLICT (scope, key) DO NOTHING;
  IF NOT FOUND THEN
    outcome := 'answered';
    RETURN NEXT;
    RETURN;
  END IF;
  outcome := 'claimed';
  -- The transfer's row lock and its status guard, as the service's `_ACCEPT_IF_PENDING`.
  UPDATE wallet_transfers t SET status = 'accepted', decided_at = p_now
    WHERE t.id = p_transfer AND t.recipient_id IN (SELECT i.id FROM wallet_insured i
        WHERE i.user_id = p_user OR i.member_id = p_member)
      AND t.status = 'pending' AND t.release_at > p_now
      AND EXISTS (SELECT 1 FROM wallet_relationships r
        WHERE r.id = t.relationship_id AND r.status = 'active')
    RETURNING t.amount_fen, t.giver_id, t.recipient_id, t.submitted_at, t.release_at
    INTO accepted_amount, accepted_giver, accepted_recipient, accepted_submitted_at,
      accepted_release_at;
  IF NOT FOUND THEN
    RETURN NEXT;  -- not theirs, not pending, due or the relationship ended: the service says
    RETURN;
  END IF;
  INSERT INTO wallet_transfer_events (transfer_id, from_status, to_status, at, actor_label)
    VALUES (p_transfer, 'pending', 'accepted', p_now, p_event_label);
  v_quota_key := 'quota:' || accepted_recipient || ':' || accepted_giver;
  IF NOT EXISTS (SELECT 1 FROM wallet_accounts a WHERE a.key = v_quota_key) THEN
    INSERT INTO wallet_accounts (key, kind, insured_id, giver_id, balance_fen, created_at)
    VALUES (v_quota_key, 'quota', accepted_recipient, accepted_giver, 0, p_now)
    ON CONFLICT (key) DO NOTHING;
  END IF;
  PERFORM 1 FROM wallet_accounts a WHERE a.key IN ('held:' || accepted_giver, v_quota_key)
    ORDER BY a.id FOR UPDATE;
  SELECT a.id INTO v_held FROM wallet_accounts a WHERE a.key = 'held:' || accepted_giver;
  SELECT a.id INTO v_quota FROM wallet_accounts a WHERE a.key = v_quota_key;
  UPDATE wallet_accounts SET balance_fen = balance_fen - accepted_amount
    WHERE id = v_held AND balance_fen - accepted_amount >= 0;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'wallet_accept_transfer: the held account is short of a pending transfer';
  END IF;
  UPDATE wallet_accounts SET balance_fen = balance_fen + accepted_amount WHERE id = v_quota;
  INSERT INTO wallet_postings (kind, transfer_id, at, actor_label, memo)
    VALUES ('accept', p_transfer, p_now, p_event_label, '')
    RETURNING id INTO new_posting;
  INSERT INTO wallet_entries (posting_id, account_id, amount_fen)
    VALUES (new_posting, v_held, -accepted_amount), (new_posting, v_quota, accepted_amount);
  v_after := '{"amount_fen":' || accepted_amount || ',"giver_id":' || accepted_giver || '}';
  INSERT INTO audit_log (at, actor_user_id, actor_token_id, actor_label, action, target_type,
      target_id, before, after)
    VALUES (p_now, p_audit_user, p_audit_token, p_audit_label, 'wallet.transfer_accepted',
      'wallet_transfer', p_transfer::text, 'null', v_after::json)
    RETURNING id INTO v_audit;
  UPDATE wallet_requests SET result = json_build_object('transfer_id', p_transfer,
      'status', 'accepted', 'amount_fen', accepted_amount, 'giver_id', accepted_giver,
      'recipient_id', accepted_recipient,
      'submitted_at', gonghui_isoformat(accepted_submitted_at),
      'release_at', gonghui_isoformat(accepted_release_at))
    WHERE scope = p_scope AND key = p_key;
  INSERT INTO audit_links_due (audit_id, content) VALUES (v_audit, gonghui_audit_canonical(
    v_audit, p_now, p_audit_user, p_audit_token, p_audit_label, 'wallet.transfer_accepted',
    'wallet_transfer', p_transfer::text, NULL, v_after));
  outcome := 'done';
  RETURN NEXT;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "audit_links_due",
        sa.Column("audit_id", _ID, autoincrement=False, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_audit_links_due")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (
            _ISOFORMAT,
            _CANONICAL,
            _LINK,
            _LINK_DUE,
            _LINK_AT_COMMIT,
            _SUBMIT,
            _ACCEPT,
        ):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_links_due")  # its trigger with it
    if op.get_bind().dialect.name == "postgresql":
        for name in (
            "wallet_accept_transfer",
            "wallet_submit_transfer",
            "gonghui_audit_link_due",
            "gonghui_audit_link",
            "gonghui_audit_canonical",
            "gonghui_isoformat",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {name} CASCADE")
