"""Bank balance files: every bad line reported, nothing stored unless the file is clean."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gonghui.core.auth import Actor, Role
from gonghui.core.errors import Forbidden, ImportRejected
from gonghui.insurance.balances import Source, import_balance_rows, import_balances
from gonghui.insurance.models import BalanceImport
from gonghui.insurance.store import BalanceStore
from gonghui.members.models import Bank
from tests.conftest import NOW
from tests.world import SETUP, World

HEADER = "卡号,日期,日终余额\n"


def bank(db: Session, world: World, which: str = "ytb") -> Bank:
    found = db.get(Bank, world.bank_ytb if which == "ytb" else world.bank_qlb)
    assert found is not None
    return found


def run(db: Session, world: World, store: BalanceStore, content: str | bytes, actor: Actor = SETUP):
    data = content.encode() if isinstance(content, str) else content
    return import_balances(
        db,
        data,
        bank=bank(db, world),
        filename="f.csv",
        source=Source.CLI,
        actor=actor,
        now=NOW,
        store=store,
    )


def rejected(db: Session, world: World, store: BalanceStore, content: str | bytes) -> list[str]:
    before = db.scalar(select(func.count()).select_from(BalanceImport))
    files_before = sorted(store.root.rglob("*.parquet")) if store.root.exists() else []
    with pytest.raises(ImportRejected) as caught:
        run(db, world, store, content)
    assert db.scalar(select(func.count()).select_from(BalanceImport)) == before
    assert (sorted(store.root.rglob("*.parquet")) if store.root.exists() else []) == files_before
    return [str(line) for line in caught.value.errors]


def test_a_clean_file_is_stored_and_the_same_file_again_changes_nothing(
    db: Session, world: World, store: BalanceStore
) -> None:
    content = HEADER + f"{world.card_a},2025-01-01,2000.00\n{world.card_a},20250102,2100.5\n"
    first = run(db, world, store, content)
    assert (first.rows, first.new_rows, first.already_known) == (2, 2, False)
    again = run(db, world, store, content)
    assert again.already_known
    assert db.scalar(select(func.count()).select_from(BalanceImport)) == 1


def test_known_card_days_with_the_same_balance_add_nothing(
    db: Session, world: World, store: BalanceStore
) -> None:
    run(db, world, store, HEADER + f"{world.card_a},2025-01-01,2000.00\n")
    overlap = run(
        db,
        world,
        store,
        f"card_no,date,balance\n{world.card_a},2025-01-01,2000\n{world.card_a},2025-01-02,1\n",
    )
    assert (overlap.rows, overlap.new_rows) == (2, 1)


def test_every_malformed_line_is_reported_and_nothing_is_stored(
    db: Session, world: World, store: BalanceStore
) -> None:
    content = (
        HEADER
        + f"{world.card_a},2025-01-01,2000.00\n"  # 2: fine
        + "6200000000000000000,2025-01-01,1.00\n"  # 3: unknown card
        + f"{world.card_b},2025-01-01,1.00\n"  # 4: another bank's card
        + f"{world.card_a},2025-02-30,1.00\n"  # 5: no such date
        + f"{world.card_a},01/03/2025,1.00\n"  # 6: wrong date form
        + f"{world.card_a},2025-01-04,-5.00\n"  # 7: negative
        + f"{world.card_a},2025-01-05,12.345\n"  # 8: three decimals
        + f"{world.card_a},2025-01-06,abc\n"  # 9: not a number
        + f"{world.card_a},2025-01-01,2500.00\n"  # 10: same card-day as line 2, other balance
    )
    assert rejected(db, world, store, content) == [
        "第3行：卡号 6200000000000000000 不是本行（烟台银行）已登记的会员卡",
        "第4行：卡号 6231680000000000022 不是本行（烟台银行）已登记的会员卡",
        "第5行：日期“2025-02-30”不存在",
        "第6行：日期“01/03/2025”格式不正确，应为 YYYY-MM-DD、YYYY/M/D 或 YYYYMMDD",
        "第7行：日终余额不能为负数：-5.00",
        "第8行：日终余额最多两位小数：12.345",
        "第9行：日终余额“abc”格式不正确，应为如 2500 或 2,500.00 的金额",
        "第10行：与第2行同卡同日但余额不同",
    ]


def test_the_forms_of_a_date_every_file_may_use_are_read_alike(
    db: Session, world: World, store: BalanceStore
) -> None:
    content = (
        HEADER
        + f"{world.card_a},2025/02/01,1.00\n"
        + f"{world.card_a},2025/2/2,1.00\n"
        + f"{world.card_a},20250203,1.00\n"
        + f'{world.card_a},2025-02-04,"2,500.00"\n'
    )
    assert run(db, world, store, content).new_rows == 4


def test_an_xlsx_file_with_excel_date_cells_and_number_cells_is_read(
    db: Session, world: World, store: BalanceStore
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["卡号", "日期", "日终余额"])
    sheet.append([world.card_a, datetime(2025, 1, 2), 2500.5])  # noqa: DTZ001 - an Excel cell
    sheet.append([world.card_a, date(2025, 1, 3), 2500])
    sheet.append([world.card_a, "2025/1/4", "2,500.00"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert run(db, world, store, buffer.getvalue()).new_rows == 3


def test_a_day_that_has_not_ended_in_beijing_is_refused_with_its_line(
    db: Session, world: World, store: BalanceStore
) -> None:
    # NOW is 2025-02-10 09:00 in Beijing: the 9th has ended, the 10th has not.
    content = (
        HEADER
        + f"{world.card_a},2025-02-09,1.00\n"
        + f"{world.card_a},2025-02-10,1.00\n"
        + f"{world.card_a},2025-02-11,1.00\n"
    )
    assert rejected(db, world, store, content) == [
        "第3行：日期 2025-02-10 尚未结束，当天结束后才能报送日终余额",
        "第4行：日期 2025-02-11 尚未结束，当天结束后才能报送日终余额",
    ]


def test_commas_out_of_place_exponents_and_huge_balances_are_refused_with_their_lines(
    db: Session, world: World, store: BalanceStore
) -> None:
    content = (
        HEADER
        + f'{world.card_a},2025-01-01,"2500,00"\n'
        + f'{world.card_a},2025-01-02,"1,0,0"\n'
        + f"{world.card_a},2025-01-03,1e3\n"
        + f"{world.card_a},2025-01-04,NaN\n"
        + f"{world.card_a},2025-01-05,{'9' * 31}\n"
    )
    assert rejected(db, world, store, content) == [
        "第2行：日终余额“2500,00”格式不正确，应为如 2500 或 2,500.00 的金额",
        "第3行：日终余额“1,0,0”格式不正确，应为如 2500 或 2,500.00 的金额",
        "第4行：日终余额“1e3”格式不正确，应为如 2500 或 2,500.00 的金额",
        "第5行：日终余额“NaN”格式不正确，应为如 2500 或 2,500.00 的金额",
        "第6行：日终余额超出上限（最多 ¥10,000,000,000.00）",
    ]


def test_a_trailing_total_row_is_named_as_a_total_row(
    db: Session, world: World, store: BalanceStore
) -> None:
    content = HEADER + f"{world.card_a},2025-01-01,1.00\n合计,,1.00\n"
    assert rejected(db, world, store, content) == [
        "第3行：“合计”是合计行，不是某张卡的余额，请删除该行后再导入"
    ]


def test_a_tab_separated_file_is_read_as_such(
    db: Session, world: World, store: BalanceStore
) -> None:
    content = f"卡号\t日期\t日终余额\n{world.card_a}\t2025-01-01\t2,000.00\n"
    assert run(db, world, store, content).new_rows == 1


def test_the_count_matches_the_lines_listed_and_the_summary_says_what_happened(
    db: Session, world: World, store: BalanceStore
) -> None:
    with pytest.raises(ImportRejected) as caught:
        run(db, world, store, HEADER + "1,bad,abc\n2,bad,abc\n")
    assert caught.value.message == "导入失败：共2行有错误，未写入任何数据"
    first = run(db, world, store, HEADER + f"{world.card_a},2025-01-01,1.00\n")
    assert first.summary == "余额导入完成：共1行，新增1行"
    second = run(
        db, world, store, HEADER + f"{world.card_a},2025-01-01,1.00\n{world.card_a},2025-01-02,1\n"
    )
    assert second.summary == "余额导入完成：共2行，新增1行，其余1行与已导入数据相同"


def test_a_bank_hears_the_same_about_another_banks_card_and_no_card_at_all(
    db: Session, world: World, store: BalanceStore
) -> None:
    """Otherwise a balance file would tell a bank which numbers its competitor issued."""
    unknown, other_bank = "6231680000000000099", world.card_b
    lines = rejected(
        db, world, store, f"卡号,日期,日终余额\n{unknown},2025-01-01,1\n{other_bank},2025-01-01,1\n"
    )
    assert [
        line.split("：", 1)[1].replace(unknown, "N").replace(other_bank, "N") for line in lines
    ] == ["卡号 N 不是本行（烟台银行）已登记的会员卡"] * 2


def test_a_balance_that_contradicts_an_earlier_file_is_refused(
    db: Session, world: World, store: BalanceStore
) -> None:
    run(db, world, store, HEADER + f"{world.card_a},2025-01-01,2000.00\n")
    assert rejected(
        db,
        world,
        store,
        HEADER + f"{world.card_a},2025-01-02,5.00\n{world.card_a},2025-01-01,1999.99\n",
    ) == ["第3行：该卡该日已导入不同的日终余额（¥2,000.00）"]


def test_missing_columns_and_bad_encodings_are_refused(
    db: Session, world: World, store: BalanceStore
) -> None:
    assert rejected(db, world, store, "卡号,日期\n1,2\n") == [
        "第1行：缺少列“日终余额”（或 balance）"
    ]
    assert rejected(db, world, store, (HEADER + "1,2,3\n").encode("utf-16")) == [
        "文件编码无法识别：请保存为 UTF-8 或 GBK 编码的 CSV，或 XLSX"
    ]


def test_gbk_files_with_english_headers_are_read(
    db: Session, world: World, store: BalanceStore
) -> None:
    report = run(
        db, world, store, f"card_no,date,balance\n{world.card_a},20250110,3000\n".encode("gbk")
    )
    assert report.new_rows == 1


def test_a_bank_may_not_send_another_banks_file(
    db: Session, world: World, store: BalanceStore
) -> None:
    qlb_operator = Actor(
        user_id=None,
        username="q",
        role=Role.BANK_OPERATOR,
        display_name="q",
        bank_id=world.bank_qlb,
    )
    with pytest.raises(Forbidden):
        run(db, world, store, HEADER + f"{world.card_a},2025-01-01,1\n", qlb_operator)


def test_api_batches_go_through_the_same_checks(
    db: Session, world: World, store: BalanceStore
) -> None:
    with pytest.raises(ImportRejected) as caught:
        import_balance_rows(
            db,
            [(world.card_a, "2025-01-01", "1.00"), (world.card_a, "bad", "1.00")],
            bank=bank(db, world),
            source=Source.API,
            actor=SETUP,
            now=NOW,
            store=store,
        )
    assert [str(line) for line in caught.value.errors] == [
        "第3行：日期“bad”格式不正确，应为 YYYY-MM-DD、YYYY/M/D 或 YYYYMMDD"
    ]
