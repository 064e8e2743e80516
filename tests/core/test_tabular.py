import pytest

from gonghui.core.errors import ImportRejected
from gonghui.core.tabular import parse_date_cell, read_table


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
