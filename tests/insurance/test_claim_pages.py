"""The claim pages as the people filing and deciding see them (issue 13.3, 13.4, 13.6)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gonghui.core.auth import Role
from gonghui.core.storage import ContentStore
from gonghui.insurance import claims
from gonghui.insurance.claims_rules import RejectionCode
from gonghui.insurance.models import Plan
from gonghui.members.models import Card, Notification
from tests.conftest import NOW
from tests.insurance.test_claims import ADJUSTER, PDF, attach_all, member_a, new_claim
from tests.world import World, csrf_of, login, post_form


def _trial(client: TestClient, world: World, db: Session, admitted: str, **extra: str) -> str:
    card = db.scalars(select(Card.id).where(Card.card_no == world.card_a)).one()
    fields = {
        "action": "estimate",
        "member_id": str(world.member_a),
        "hospital": "烟台山医院",
        "admitted_on": admitted,
        "discharged_on": "2025-02-08",
        "diagnosis": "肺炎",
        "invoice_no": "T-1",
        "total": "9000",
        "fund_paid": "4000",
        "policy_self_pay": "2500",
        "class_b_self_pay": "1500",
        "fully_self_paid": "1000",
        "card_id": str(card),
        **extra,
    }
    return post_form(client, "/insurance/claims", fields).text


def test_the_trial_promises_nothing_to_a_member_not_covered_on_admission(
    client: TestClient, db: Session, world: World, covered: Plan
) -> None:
    """Issue 13.3: 本次预计可赔付 ¥2,500.00, then saving refused as not covered."""
    login(client, "member")
    page = _trial(client, world, db, "2025-01-30")
    assert "入院日期 2025-01-30 不在您的补充医保保障期内" in page
    assert "本次没有可赔付金额" in page
    assert "2025-02-01 至 2025-02-28" in page  # the cover the member does have
    assert "本次预计可赔付" not in page


def test_the_trial_shows_which_bill_fields_count_and_why(
    client: TestClient, db: Session, world: World, covered: Plan
) -> None:
    login(client, "member")
    page = _trial(client, world, db, "2025-02-03")
    assert "本次预计可赔付 <strong>¥2,500.00</strong>" in page
    notes = page[page.index('data-testid="fields"') :]
    assert "政策范围内个人自付" in notes
    assert "乙类先行自付" in notes
    assert "全自费" in notes
    assert notes.count("不计入") >= 3  # 乙类先行自付, 全自费 and 统筹基金支付
    assert "本计划条款不赔付此项" in notes


def test_a_partial_approval_shows_the_decided_amount_and_why(
    client: TestClient, db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    """Issue 13.4: approving ¥4,000 still showed 本次应赔付 ¥5,200 / 剩余额度 ¥50,000."""
    claim = new_claim(db, world, covered, self_pay=520_000)
    attach_all(db, claim, world, documents)
    claims.submit_claim(db, claim, actor=member_a(world), now=NOW)
    claims.approve_part_of_claim(
        db, claim, amount_fen=400_000, reason=RejectionCode.NOT_INPATIENT,
        note="含门诊费用1,200元", actor=ADJUSTER, now=NOW,
    )  # fmt: skip
    db.commit()
    login(client, "member")
    page = client.get(f"/insurance/claims/{claim.id}").text
    assert "核定赔付" in page
    assert "¥4,000.00" in page
    assert "核定后本年度剩余额度" in page
    assert "¥46,000.00" in page
    assert "非住院医疗费用" in page
    notice = db.scalars(
        select(Notification.body).where(
            Notification.member_id == world.member_a, Notification.title == "理赔申请已核定"
        )
    ).one()
    assert "部分核准" in notice
    assert "¥5,200.00" in notice
    assert "¥4,000.00" in notice
    assert "非住院医疗费用" in notice
    assert "含门诊费用1,200元" in notice


def test_the_officer_picks_a_member_of_the_unit_and_sees_their_cover(
    client: TestClient, db: Session, world: World, covered: Plan
) -> None:
    """Issue 13.6: 新建申请 on the claims page answered 未找到 for a unit officer."""
    login(client, "unit_officer")
    assert 'href="/insurance/claims/new"' in client.get("/insurance/claims").text
    picker = client.get("/insurance/claims/new")
    assert picker.status_code == 200
    assert "林建国" in picker.text
    assert "周秀英" not in picker.text  # another unit's member
    assert f"/insurance/claims/new?member_id={world.member_a}" in picker.text
    form = client.get(f"/insurance/claims/new?member_id={world.member_a}").text
    assert "该会员的补充医保保障期" in form
    assert "2025-02-01 至 2025-02-28" in form
    refused = _trial(client, world, db, "2025-01-30")
    assert "入院日期 2025-01-30 不在该会员的补充医保保障期内" in refused
    assert "您的" not in refused[refused.index("<main") :]


def test_the_member_page_shows_whether_the_member_is_covered(
    client: TestClient, world: World, covered: Plan
) -> None:
    login(client, "unit_officer")
    page = client.get(f"/members/{world.member_a}").text
    assert "补充医保" in page
    assert "2025-02-01 至 2025-02-28" in page
    assert "保障中" in page


def test_an_officer_saving_a_claim_for_an_uncovered_stay_hears_about_the_member(
    client: TestClient, db: Session, world: World, covered: Plan
) -> None:
    login(client, "unit_officer")
    page = _trial(client, world, db, "2025-01-30", action="create")
    assert "入院日期 2025-01-30 不在该会员的补充医保保障期内" in page
    assert "您的补充医保" not in page


def test_a_partial_approval_without_an_amount_brings_the_decision_form_back(
    client: TestClient, db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    """Issue 14: it was the page 无法完成请求 / 回到首页, and what the adjuster wrote was lost."""
    claim = new_claim(db, world, covered, self_pay=520_000)
    attach_all(db, claim, world, documents)
    claims.submit_claim(db, claim, actor=member_a(world), now=NOW)
    db.commit()
    login(client, world.users[Role.INSURER_ADJUSTER])
    page = f"/insurance/claims/{claim.id}"
    client.get(page)
    answer = post_form(
        client,
        f"{page}/decision",
        {"outcome": "partial", "amount": "", "code": "not_inpatient", "note": "门诊部分核减",
         "form_page": page},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "无法完成请求" not in answer.text
    form = answer.text[answer.text.index(f'action="{page}/decision"') :]
    assert "部分核准请填写核准金额" in form
    assert '<option value="partial" selected>' in form
    assert 'value="门诊部分核减"' in form
    db.refresh(claim)
    assert claim.status.value == "under_review"


def test_an_upload_refused_for_one_of_its_files_leaves_no_file_behind(
    client: TestClient, db: Session, world: World, covered: Plan, documents: ContentStore
) -> None:
    # The invoice was written to the store before the exe beside it was refused: the rows
    # rolled back, the file stayed, and nothing refers to it (19 × 10 MB a request).
    claim = new_claim(db, world, covered)
    db.commit()
    login(client, "member")
    answer = client.post(
        f"/insurance/claims/{claim.id}/documents",
        data={"csrf_token": csrf_of(client, f"/insurance/claims/{claim.id}")},
        files=[
            ("file_invoice", ("invoice.pdf", PDF, "application/pdf")),
            ("file_fee_list", ("list.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")),
        ],
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert "费用清单“list.pdf”：只接受 PDF、JPG 或 PNG 文件" in answer.text
    assert not documents.root.exists() or not any(documents.root.rglob("*"))
