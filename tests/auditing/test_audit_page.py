"""The audit administrator's page: search by person, action, target and Beijing day; export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core import audit
from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Actor, Role
from tests.world import login

ZHANG = Actor(user_id=None, username="zhang", role=Role.ADMIN, display_name="张审计测试")
LI = Actor(user_id=None, username="li", role=Role.ADMIN, display_name="李审计测试")
# 2025-03-01 23:30 and 2025-03-02 00:30 in Beijing: two Beijing days, one UTC day.
LATE = datetime(2025, 3, 1, 15, 30, tzinfo=UTC)
EARLY = datetime(2025, 3, 1, 16, 30, tzinfo=UTC)


def _seed(db: Session) -> None:
    audit.record(db, actor=ZHANG, at=LATE, action="t.alpha", target_type="member", target_id=7)
    audit.record(db, actor=LI, at=EARLY, action="t.beta", target_type="claim", target_id=7)
    audit.record(
        db,
        actor=LI,
        at=EARLY,
        action="t.gamma",
        target_type="member",
        target_id=8,
        after={"name": '=HYPERLINK("http://evil.example","x")'},
    )
    db.commit()


def test_only_the_audit_reader_opens_the_page(client: TestClient) -> None:
    login(client, "federation_staff")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403


def test_it_finds_rows_by_person_action_target_and_beijing_day(
    client: TestClient, db: Session
) -> None:
    _seed(db)
    login(client, "audit_admin")

    def found(**params: str) -> set[str]:
        page = client.get("/admin/audit", params=params)
        assert page.status_code == 200
        return {a for a in ("t.alpha", "t.beta", "t.gamma") if a in page.text}

    assert found(person="张审计") == {"t.alpha"}
    assert found(action="t.gam") == {"t.gamma"}
    assert found(target="member#7") == {"t.alpha"}
    assert found(target="7", action="t.") == {"t.alpha", "t.beta"}
    # 23:30 on 1 March in Beijing is the 1st; 00:30 the next morning is the 2nd.
    assert found(since="2025-03-02", until="2025-03-02") == {"t.beta", "t.gamma"}
    assert found(since="2025-03-01", until="2025-03-01") == {"t.alpha"}


def test_a_bad_date_comes_back_with_the_values_kept(client: TestClient) -> None:
    login(client, "audit_admin")
    page = client.get("/admin/audit", params={"person": "张", "since": "2025-13-45"})
    assert page.status_code == 422
    assert "开始日期“2025-13-45”不存在" in page.text
    assert 'value="张"' in page.text
    backwards = client.get("/admin/audit", params={"since": "2025-03-02", "until": "2025-03-01"})
    assert "结束日期不能早于开始日期" in backwards.text


def test_exports_keep_formulas_as_text_and_are_audited(client: TestClient, db: Session) -> None:
    _seed(db)
    login(client, "audit_admin")
    answer = client.get("/admin/audit/export.csv", params={"action": "t.gamma"})
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "时间（北京时间）", "操作人"]
    assert len(rows) == 2
    assert rows[1][1] == "2025-03-02 00:30:00"
    assert rows[1][7].startswith("{")  # a JSON cell stays a JSON cell
    workbook = client.get("/admin/audit/export.xlsx", params={"action": "t.gamma"})
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert all(cell.data_type == "s" for cell in cells if cell.value is not None)
    exports = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "audit.exported").order_by(AuditEntry.id)
    ).all()
    assert [e.after["format"] for e in exports if e.after] == ["csv", "xlsx"]
    assert exports[0].actor_label.startswith("audit_admin(")
    assert exports[0].after is not None
    assert exports[0].after["client"] == "testclient"


def test_a_csv_cell_that_would_run_as_a_formula_is_written_as_text() -> None:
    from gonghui.core.tabular import write_csv  # noqa: PLC0415

    content = write_csv(["a"], [["=1+1"], ["+1"], ["-2"], ["@x"], ["plain"]]).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(content)))[1:] == [
        ["'=1+1"],
        ["'+1"],
        ["'-2"],
        ["'@x"],
        ["plain"],
    ]
