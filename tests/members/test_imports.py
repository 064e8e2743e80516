"""Imports of the roll: every bad line reported, nothing written unless the whole file is clean."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.audit import AuditEntry
from gonghui.core.auth import Actor, Role
from gonghui.core.errors import Forbidden, ImportRejected
from gonghui.core.pii import IdentityVault
from gonghui.members.exports import export_xlsx, template_xlsx
from gonghui.members.imports import ImportKind, import_file
from gonghui.members.models import Card, Member, Unit
from gonghui.members.service import Outcome
from tests.conftest import NOW
from tests.templates import drop_downs, filled_with_example
from tests.world import SETUP, World, make_credit_code, make_id

MEMBER_HEADER = "姓名,身份证号,手机号,统一社会信用代码,岗位类型,在职状态\n"


def counts(db: Session) -> tuple[int, int, int, int]:
    return tuple(  # type: ignore[return-value]
        db.scalar(select(func.count()).select_from(model)) or 0
        for model in (Unit, Member, Card, AuditEntry)
    )


def run(db: Session, vault: IdentityVault, content: bytes | str, actor: Actor = SETUP):
    data = content.encode() if isinstance(content, str) else content
    return import_file(db, data, actor=actor, now=NOW, vault=vault)


def rejected_lines(
    db: Session, vault: IdentityVault, content: bytes | str, actor: Actor = SETUP
) -> list[str]:
    before = counts(db)
    with pytest.raises(ImportRejected) as caught:
        run(db, vault, content, actor)
    db.rollback()
    assert counts(db) == before, "a rejected import must leave the database unchanged"
    return [str(line) for line in caught.value.errors]


def test_a_clean_member_file_is_imported_and_the_same_file_again_changes_nothing(
    db: Session, vault: IdentityVault, world: World
) -> None:
    content = (
        MEMBER_HEADER
        + f"王小明,{make_id(sequence='551')},13700000011,{world.unit_a_code},生产操作岗,在职\n"
        + f"李红,{make_id(birth='19900707', sequence='662')},13700000012,"
        + f"{world.unit_a_code},管理技术岗,返聘\n"
    )
    first = run(db, vault, content)
    assert first.counts[Outcome.CREATED] == 2
    after_first = counts(db)
    second = run(db, vault, content)
    assert second.counts == {Outcome.CREATED: 0, Outcome.UPDATED: 0, Outcome.UNCHANGED: 2}
    assert counts(db) == after_first


def test_a_changed_row_updates_the_member_and_is_audited(
    db: Session, vault: IdentityVault, world: World
) -> None:
    content = (
        MEMBER_HEADER
        + f"林建国,{world.member_a_id_number},13800000099,{world.unit_a_code},生产操作岗,内退\n"
    )
    report = run(db, vault, content)
    assert report.counts[Outcome.UPDATED] == 1
    member = db.get(Member, world.member_a)
    assert member is not None
    assert (member.phone, member.employment_status.label) == ("13800000099", "内退")
    entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None
    assert entry.action == "member.updated"
    assert entry.before == {"phone": "13800000001", "employment_status": "employed"}


def test_every_bad_member_line_is_reported_with_its_number_and_reason(
    db: Session, vault: IdentityVault, world: World
) -> None:
    good = make_id(sequence="771")
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    unknown_unit = make_credit_code("QQQQ999")
    content = (
        MEMBER_HEADER
        + f"张三,{good},13700000021,{world.unit_a_code},生产操作岗,在职\n"  # line 2: fine
        + f"李四,{wrong_check},13700000022,{world.unit_a_code},生产操作岗,在职\n"
        + f"王五,{make_id(sequence='772')},12345,{world.unit_a_code},生产操作岗,在职\n"
        + f"赵六,{make_id(sequence='773')},13700000024,{unknown_unit},生产操作岗,在职\n"
        + f"钱七,{good},13700000025,{world.unit_a_code},生产操作岗,在职\n"
        + f"孙八,{make_id(sequence='774')},13700000026,{world.unit_a_code},工人,在职\n"
        + f",{make_id(sequence='775')},13700000027,{world.unit_a_code},生产操作岗,在职\n"
    )
    lines = rejected_lines(db, vault, content)
    assert lines == [
        "第3行：身份证号校验位错误",
        "第4行：手机号应为11位中国大陆手机号码",
        f"第5行：单位不存在（统一社会信用代码 {make_credit_code('QQQQ999')}），请先导入单位",
        "第6行：身份证号与第2行重复",
        "第7行：岗位类型“工人”不正确，应为：管理技术岗、生产操作岗",
        "第8行：“姓名”不能为空",
    ]


def test_a_name_with_a_hidden_control_character_is_refused_with_its_line(
    db: Session, vault: IdentityVault, world: World
) -> None:
    # PostgreSQL cannot store the NUL (the import failed with a 500), and no export could
    # write the \x01 into a workbook afterwards.
    content = (
        MEMBER_HEADER
        + f"张\x00三,{make_id(sequence='781')},13700000031,{world.unit_a_code},生产操作岗,在职\n"
        + f"李\x01四,{make_id(sequence='782')},13700000032,{world.unit_a_code},生产操作岗,在职\n"
    )
    assert rejected_lines(db, vault, content) == [
        "第2行：“姓名”含有看不见的控制字符（多为从别处复制粘贴时带入），请删除后重新填写",
        "第3行：“姓名”含有看不见的控制字符（多为从别处复制粘贴时带入），请删除后重新填写",
    ]


def test_text_longer_than_its_column_is_refused_with_its_line(
    db: Session, vault: IdentityVault, world: World
) -> None:
    # SQLite stores any length; PostgreSQL refused the statement (a 500) past VARCHAR(64).
    members = (
        MEMBER_HEADER
        + f"{'张' * 65},{make_id(sequence='783')},13700000033,{world.unit_a_code},生产操作岗,在职\n"
    )
    assert rejected_lines(db, vault, members) == ["第2行：“姓名”不能超过64个字"]
    units = (
        "单位名称,统一社会信用代码,行业,区县,上级工会\n"
        f"{'厂' * 129},{make_credit_code('LNGA001')},{'业' * 65},{'区' * 65},{'会' * 129}\n"
    )
    too_long = "“单位名称”不能超过128个字；“行业”不能超过64个字；“区县”不能超过64个字；"
    assert rejected_lines(db, vault, units) == [f"第2行：{too_long}“上级工会”不能超过128个字"]


def test_a_missing_column_is_reported_before_any_row(db: Session, vault: IdentityVault) -> None:
    lines = rejected_lines(db, vault, "姓名,身份证号,手机号,统一社会信用代码\n张三,1,2,3\n")
    assert lines == ["第1行：缺少列“岗位类型”", "第1行：缺少列“在职状态”"]


def test_an_unknown_header_is_refused_with_the_templates_named(
    db: Session, vault: IdentityVault
) -> None:
    lines = rejected_lines(db, vault, "甲,乙\n1,2\n")
    assert "无法识别表头" in lines[0]
    assert "卡号、身份证号、发卡银行、开卡日期" in lines[0]


def test_a_file_in_neither_utf8_nor_gbk_is_refused(db: Session, vault: IdentityVault) -> None:
    lines = rejected_lines(db, vault, (MEMBER_HEADER + "张三\n").encode("utf-16"))
    assert lines == ["文件编码无法识别：请保存为 UTF-8 或 GBK 编码的 CSV，或 XLSX"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_gbk_and_with_a_bom_is_read(
    db: Session, vault: IdentityVault, world: World, encoding: str
) -> None:
    content = (
        MEMBER_HEADER
        + f"欧阳娜娜,{make_id(sequence='882')},13700000031,{world.unit_a_code},管理技术岗,在职\n"
    )
    report = run(db, vault, content.encode(encoding))
    assert report.counts[Outcome.CREATED] == 1
    member = db.scalars(select(Member).where(Member.name == "欧阳娜娜")).one()
    assert member.sex.value == "female"


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_units_from_xlsx_and_a_bad_credit_code_line(db: Session, vault: IdentityVault) -> None:
    good, bad = make_credit_code("NEWU001"), make_credit_code("NEWU002")[:-1] + "0"
    if bad == make_credit_code("NEWU002"):
        bad = bad[:-1] + "1"
    header = ["单位名称", "统一社会信用代码", "行业", "区县", "上级工会"]
    lines = rejected_lines(
        db,
        vault,
        _xlsx(
            [
                header,
                ["新单位", good, "制造业", "福山区", "福山区总工会"],
                ["坏单位", bad, "制造业", "福山区", ""],
            ]
        ),
    )
    assert lines == ["第3行：“上级工会”不能为空；统一社会信用代码校验位错误"]
    report = run(db, vault, _xlsx([header, ["新单位", good, "制造业", "福山区", "福山区总工会"]]))
    assert report.counts[Outcome.CREATED] == 1


def test_card_lines_with_unknown_member_bank_bad_date_and_duplicates(
    db: Session, vault: IdentityVault, world: World
) -> None:
    content = (
        "卡号,身份证号,发卡银行,开卡日期\n"
        f"6223110000000009991,{world.member_a_id_number},烟台银行,2024-03-01\n"  # fine
        f"6223110000000009992,{make_id(sequence='991')},烟台银行,2024-03-01\n"
        f"6223110000000009993,{world.member_a_id_number},工商银行,2024-03-01\n"
        f"6223110000000009994,{world.member_a_id_number},烟台银行,2024-02-30\n"
        f"6223110000000009991,{world.member_a_id_number},烟台银行,2024-03-01\n"
        f"{world.card_b},{world.member_a_id_number},齐鲁银行,20240301\n"
        f"12345,{world.member_a_id_number},烟台银行,2030-01-01\n"
    )
    assert rejected_lines(db, vault, content) == [
        "第3行：身份证号不在会员名册中，请先导入会员",
        "第4行：发卡银行“工商银行”不是合作银行",
        "第5行：开卡日期“2024-02-30”不存在",
        "第6行：卡号与第2行重复",
        "第7行：该卡号已登记在其他会员名下",
        "第8行：卡号应为16至19位数字；开卡日期不能晚于今天",
    ]


def test_a_unit_officer_may_import_members_of_their_own_unit_only(
    db: Session, vault: IdentityVault, world: World
) -> None:
    officer = Actor(
        user_id=None, username="o", role=Role.UNIT_OFFICER, display_name="o", unit_id=world.unit_a
    )
    content = (
        MEMBER_HEADER
        + f"甲,{make_id(sequence='311')},13700000041,{world.unit_b_code},生产操作岗,在职\n"
        + f"周秀英,{world.member_b_id_number},13900000002,{world.unit_a_code},管理技术岗,在职\n"
    )
    # The file fails anyway: it says nothing about who is registered in another unit.
    assert rejected_lines(db, vault, content, officer) == ["第2行：只能导入本单位的会员"]
    with pytest.raises(Forbidden):
        run(db, vault, "单位名称,统一社会信用代码,行业,区县,上级工会\n", officer)


def test_a_failing_import_is_no_probe_of_other_units_members(
    db: Session, vault: IdentityVault, world: World
) -> None:
    """The outside test's officer: a file with a bad line, listing an ID number to probe."""
    officer = Actor(
        user_id=None, username="o", role=Role.UNIT_OFFICER, display_name="o", unit_id=world.unit_a
    )
    probe = f"某人,{world.member_b_id_number},13900000002,{world.unit_a_code},管理技术岗,在职\n"
    stranger = f"某人,{make_id(sequence='388')},13900000002,{world.unit_a_code},管理技术岗,在职\n"
    bad = f"坏手机,{make_id(sequence='399')},1390,{world.unit_a_code},管理技术岗,在职\n"
    for candidate in (probe, stranger):
        assert rejected_lines(db, vault, MEMBER_HEADER + bad + candidate, officer) == [
            "第2行：手机号应为11位中国大陆手机号码"
        ]
    # Only a file that is otherwise right (and would be written) hears it.
    assert rejected_lines(db, vault, MEMBER_HEADER + probe, officer) == [
        "第2行：该会员已在其他单位登记，请联系总工会办理转会"
    ]


def test_a_bank_may_import_its_own_cards_only(
    db: Session, vault: IdentityVault, world: World
) -> None:
    bank = Actor(
        user_id=None,
        username="b",
        role=Role.BANK_OPERATOR,
        display_name="b",
        bank_id=world.bank_ytb,
    )
    content = (
        "卡号,身份证号,发卡银行,开卡日期\n"
        f"6231680000000007771,{world.member_a_id_number},齐鲁银行,2024-01-01\n"
    )
    assert rejected_lines(db, vault, content, bank) == ["第2行：只能导入本行发行的会员卡"]


def test_an_export_imports_back_unchanged(db: Session, vault: IdentityVault, world: World) -> None:
    for kind in ImportKind:
        report = run(db, vault, export_xlsx(db, SETUP, vault, kind, NOW))
        assert report.counts[Outcome.CREATED] == 0, kind
        assert report.counts[Outcome.UPDATED] == 0, kind
        assert report.rows > 0


def test_the_templates_carry_the_published_headers_and_text_columns(db: Session) -> None:
    for kind in ImportKind:
        sheet = load_workbook(io.BytesIO(template_xlsx(db, SETUP, kind))).worksheets[0]
        assert tuple(cell.value for cell in sheet[1]) == kind.headers
        assert sheet.max_row == 1, "a template imports nothing until someone writes a row"
    members = load_workbook(io.BytesIO(template_xlsx(db, SETUP, ImportKind.MEMBERS))).active
    assert members.column_dimensions["B"].number_format == "@"


def test_each_templates_example_row_imports_as_written(
    db: Session, vault: IdentityVault, world: World
) -> None:
    # A unit, then a member of it, then that member's card: the notes' examples fit together.
    for kind in (ImportKind.UNITS, ImportKind.MEMBERS, ImportKind.CARDS):
        template = template_xlsx(db, SETUP, kind)
        assert run(db, vault, filled_with_example(template)).counts[Outcome.CREATED] == 1, kind
    with pytest.raises(ImportRejected) as blank:
        run(db, vault, template_xlsx(db, SETUP, ImportKind.MEMBERS))
    assert [str(line) for line in blank.value.errors] == ["文件中没有数据行"]


def test_coded_columns_are_drop_down_lists_of_what_the_import_accepts(
    db: Session, world: World
) -> None:
    lists = drop_downs(template_xlsx(db, SETUP, ImportKind.MEMBERS))
    assert lists == {
        "岗位类型": ["管理技术岗", "生产操作岗"],
        "在职状态": ["在职", "退休", "返聘", "内退"],
    }
    units = drop_downs(template_xlsx(db, SETUP, ImportKind.UNITS))
    assert "制造业" in units["行业"]
    assert units["区县"] == sorted(set(db.scalars(select(Unit.district))))
    assert drop_downs(template_xlsx(db, SETUP, ImportKind.CARDS))["发卡银行"] == [
        "烟台银行",
        "齐鲁银行",
    ]
    a_bank = Actor(
        user_id=None, username="b", role=Role.BANK_OPERATOR, display_name="b",
        bank_id=world.bank_ytb,
    )  # fmt: skip
    assert drop_downs(template_xlsx(db, a_bank, ImportKind.CARDS))["发卡银行"] == ["烟台银行"]
