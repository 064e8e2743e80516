"""Reading and writing the tables people exchange: CSV (UTF-8 or GBK, BOM or not) and XLSX.

Every row keeps the line number a person sees in their spreadsheet (the header is line 1), so
that an import can report each bad line by number.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from gonghui.core.clock import beijing
from gonghui.core.errors import ImportRejected, LineError
from gonghui.core.inputs import CONTROL_CHARACTERS, CONTROL_CHARACTERS_MESSAGE, parse_date

_XLSX_MAGIC = b"PK\x03\x04"

# A workbook is a zip: a 656 KB upload can unpack to 150 MB of sheet XML and half a million
# rows. The sizes the zip declares are checked before anything is parsed (Python's zipfile
# never inflates an entry past its declared size), and rows are counted while they stream.
# Larger files go as CSV, whose cost is bounded by the upload limit itself.
MAX_XLSX_ROWS = 100_000
MAX_XLSX_SHEET_BYTES = 50 * 1024 * 1024
MAX_XLSX_TOTAL_BYTES = 80 * 1024 * 1024
# Every row is read as wide as the sheet's widest: a few bytes naming a cell in column XFD (or
# a declared dimension of A1:XFD1048576) made each row 16,384 cells, a 30 KB file two seconds
# of a request. No template has more than 20 columns; the rest of a wider sheet is not read.
MAX_XLSX_COLUMNS = 100


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]

    def get(self, header: str) -> str:
        return self.values.get(header, "").strip()


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[Row]


def read_table(content: bytes) -> Table:
    """Parse an uploaded file, telling XLSX from CSV by its content, not its name."""
    if not content.strip():
        raise ImportRejected([LineError(0, "文件为空")])
    if content.startswith(_XLSX_MAGIC):
        table = _read_xlsx(content)
        _refuse_control_characters(table)
        return table
    text = _decode(content)
    table = _read_csv(text)
    if CONTROL_CHARACTERS.search(text):  # one pass over the file; cell by cell to name where
        _refuse_control_characters(table)
    return table


def _refuse_control_characters(table: Table) -> None:
    """A CSV cell can carry any character: a line with a control character is refused, not
    written where PostgreSQL or a later export would fail on it."""
    errors = []
    if any(CONTROL_CHARACTERS.search(header) for header in table.headers):
        errors.append(LineError(1, f"表头{CONTROL_CHARACTERS_MESSAGE}"))
    for row in table.rows:
        columns = [
            header
            for header, value in row.values.items()
            if value is not None and CONTROL_CHARACTERS.search(value)
        ]
        if columns:
            named = "、".join(f"“{column}”" for column in columns)
            errors.append(LineError(row.line, named + CONTROL_CHARACTERS_MESSAGE))
    if errors:
        raise ImportRejected(errors)


def _decode(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for encoding in ("utf-8", "gbk"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected(
        [LineError(0, "文件编码无法识别：请保存为 UTF-8 或 GBK 编码的 CSV，或 XLSX")]
    )


def _read_csv(text: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        headers = [_clean_header(cell) for cell in next(reader)]
    except StopIteration:
        raise ImportRejected([LineError(0, "文件为空")]) from None
    except csv.Error as error:
        raise ImportRejected([LineError(1, f"CSV 格式错误：{error}")]) from None
    try:
        rows = [
            Row(reader.line_num, dict(zip(headers, cells, strict=False)))
            for cells in reader
            if any(cell.strip() for cell in cells)
        ]
    except csv.Error as error:
        raise ImportRejected([LineError(reader.line_num, _csv_error(error))]) from None
    return Table(headers, rows)


def _csv_error(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        # A cell of more than 128 K characters is no roll or balance: most likely an unclosed
        # quote that swallowed the rest of the file.
        return f"CSV 格式错误：单元格超过{csv.field_size_limit():,}个字符（常见原因：引号未配对）"
    return f"CSV 格式错误：{error}"


def _delimiter(text: str) -> str:
    """A comma, unless the header line has tabs and no commas: a spreadsheet's "text (tab
    delimited)" export, which would otherwise read as one column named after the whole line."""
    header = text.split("\n", 1)[0]
    return "\t" if "\t" in header and "," not in header else ","


def _read_xlsx(content: bytes) -> Table:
    _check_unpacked_sizes(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError):
        raise ImportRejected([LineError(0, "XLSX 文件已损坏或不是 Excel 工作簿")]) from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        lines = sheet.iter_rows(values_only=True, max_col=MAX_XLSX_COLUMNS)
        first = next(lines, None)
        if first is None:
            raise ImportRejected([LineError(0, "文件为空")])
        start = 2
        if _is_caption(first):
            # An export's title row ("… 导出于 …") above the header: the header is the next row.
            first, start = next(lines, ()), 3
        headers = [_clean_header(_cell_text(cell)) for cell in first]
        while headers and not headers[-1]:  # the columns `max_col` adds past the last header
            headers.pop()
        rows: list[Row] = []
        for number, cells in enumerate(lines, start=start):
            if number > MAX_XLSX_ROWS + start - 1:
                raise ImportRejected([LineError(0, _too_big(f"超过{MAX_XLSX_ROWS:,}行"))])
            texts = [_cell_text(cell) for cell in cells]
            if any(texts):
                rows.append(Row(number, dict(zip(headers, texts, strict=False))))
        return Table(headers, rows)
    # The sheet is parsed as it streams: broken XML (xml.etree's ParseError and lxml's
    # XMLSyntaxError are SyntaxErrors, as is expat's refusal of an entity bomb), a number cell
    # holding text (ValueError) or a sheet the workbook names but lacks surface here.
    except (zipfile.BadZipFile, zlib.error, SyntaxError, ValueError, KeyError, IndexError):
        raise ImportRejected([LineError(0, "XLSX 文件已损坏或不是 Excel 工作簿")]) from None
    finally:
        workbook.close()


def _is_caption(cells: Sequence[object]) -> bool:
    filled = [cell for cell in cells if _cell_text(cell)]
    return len(filled) == 1 and "导出于" in _cell_text(filled[0])


def _too_big(what: str) -> str:
    return f"XLSX 文件过大（{what}）：请拆分后分批导入，或另存为 CSV"


def _check_unpacked_sizes(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ImportRejected([LineError(0, "XLSX 文件已损坏或不是 Excel 工作簿")]) from None
    sheets = [entry for entry in entries if entry.filename.startswith("xl/worksheets/")]
    if any(entry.file_size > MAX_XLSX_SHEET_BYTES for entry in sheets):
        limit = MAX_XLSX_SHEET_BYTES // (1024 * 1024)
        raise ImportRejected([LineError(0, _too_big(f"工作表解压后超过{limit}MB"))])
    if sum(entry.file_size for entry in entries) > MAX_XLSX_TOTAL_BYTES:
        limit = MAX_XLSX_TOTAL_BYTES // (1024 * 1024)
        raise ImportRejected([LineError(0, _too_big(f"解压后超过{limit}MB"))])


def _clean_header(text: str) -> str:
    return text.replace("\ufeff", "").strip()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def missing_columns(table: Table, required: Sequence[str]) -> list[LineError]:
    return [LineError(1, f"缺少列“{name}”") for name in required if name not in table.headers]


@dataclass(frozen=True)
class Sheet:
    """One sheet of a workbook: its tab name (at most 31 characters), header and rows."""

    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence[object]]
    text_columns: Sequence[str] = ()


def export_caption(who: str, what: str, now: datetime) -> str:
    """The title row of an export: who took what, and when (Beijing time)."""
    return f"{what} · {who} 导出于 {beijing(now)}（北京时间）"


def write_xlsx(
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    text_columns: Sequence[str] = (),
    caption: str = "",
) -> bytes:
    """A one-sheet workbook with a bold header; `text_columns` are kept as text, so that
    Excel never turns an 18-digit ID or card number into a rounded float."""
    return write_workbook([Sheet(title, headers, rows, text_columns)], caption=caption)


def write_workbook(sheets: Sequence[Sheet], *, caption: str = "") -> bytes:
    """A workbook of several sheets, each laid out as `write_xlsx` lays out its one; with a
    caption, every sheet opens with it as a title row above its header (the imports read a
    caption row and skip it, so an export with one still imports)."""
    workbook = Workbook(write_only=False)
    workbook.remove(workbook.active)
    for one in sheets:
        _fill_sheet(workbook.create_sheet(one.title), one, caption)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Column widths in Excel's character units: a CJK character takes two.
_MIN_WIDTH, _MAX_WIDTH = 8, 60


def _display_width(value: object) -> int:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _fill_sheet(sheet: Any, one: Sheet, caption: str = "") -> None:
    headers, text_columns = one.headers, one.text_columns
    if caption:
        sheet.append([caption])
        sheet["A1"].font = Font(bold=True, size=12)
        _as_text(sheet["A1"])
        if len(headers) > 1:
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    header_row = sheet.max_row + 1 if caption else 1
    sheet.append(list(headers))
    for cell in sheet[header_row]:
        _as_text(cell)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFE8E8")
    widths = [_display_width(name) for name in headers]
    for row in one.rows:
        sheet.append([_writable(value) for value in row])
        for index, cell in enumerate(sheet[sheet.max_row]):
            _as_text(cell)
            if index < len(widths):
                widths[index] = max(widths[index], _display_width(cell.value))
    for index, name in enumerate(headers, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = min(
            _MAX_WIDTH, max(_MIN_WIDTH, widths[index - 1] + 2)
        )
        if name in text_columns:
            for (cell,) in sheet.iter_rows(min_col=index, max_col=index, min_row=header_row + 1):
                cell.number_format = "@"
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = f"A{header_row + 1}"


@dataclass(frozen=True)
class Column:
    """One column of an import template: what to write in it, an example, and, for a coded
    column, the values it takes (offered as a drop-down list in Excel)."""

    header: str
    note: str
    example: str
    required: bool = True
    choices: Sequence[str] = ()
    # A strict list refuses other values in Excel; a loose one only offers its values.
    strict: bool = True
    text: bool = False


# The drop-down lists cover this many data rows (the import reads at most MAX_XLSX_ROWS).
_TEMPLATE_ROWS = 5_000
NOTES_SHEET = "填写说明"
_CHOICES_SHEET = "选项"


def write_template(title: str, columns: Sequence[Column]) -> bytes:
    """An import template: the sheet to fill (header only, so the file imports nothing until
    someone writes a row; coded columns as drop-down lists, long digit strings as text), then a
    notes sheet saying what each column takes with an example row, and a hidden sheet holding
    the lists. The import reads the first sheet only."""
    workbook = Workbook()
    data = workbook.active
    data.title = title
    headers = [column.header for column in columns]
    _fill_sheet(data, Sheet(title, headers, [], [c.header for c in columns if c.text]))
    choices = workbook.create_sheet(_CHOICES_SHEET)
    choices.sheet_state = "hidden"
    coded = [column for column in columns if column.choices]
    for index, column in enumerate(coded, start=1):
        letter = get_column_letter(index)
        choices.cell(1, index, column.header)
        for row, value in enumerate(column.choices, start=2):
            _as_text(choices.cell(row, index, value))
        target = get_column_letter(headers.index(column.header) + 1)
        rule = DataValidation(
            type="list",
            formula1=f"'{_CHOICES_SHEET}'!${letter}$2:${letter}${len(column.choices) + 1}",
            allow_blank=not column.required,
            showErrorMessage=column.strict,
            errorTitle="请从列表中选择",
            error=f"{column.header}：{column.note}",
        )
        rule.add(f"{target}2:{target}{_TEMPLATE_ROWS + 1}")
        data.add_data_validation(rule)
    notes = workbook.create_sheet(NOTES_SHEET, 1)
    _fill_sheet(
        notes,
        Sheet(
            NOTES_SHEET,
            ("列名", "是否必填", "填写要求", "示例"),
            [(c.header, "必填" if c.required else "选填", c.note, c.example) for c in columns],
            ("示例",),
        ),
    )
    notes.append([])
    notes.append([f"请在「{title}」工作表第2行起逐行填写，示例行如下（本页不会被导入）："])
    notes.append(headers)
    notes.append([column.example for column in columns])
    for cell in notes[notes.max_row]:
        _as_text(cell)
    notes.column_dimensions["C"].width = 60
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _writable(value: object) -> object:
    # Text stored before control characters were refused at the edges (or that came in some
    # way they were not) loses them here: openpyxl refuses to write one, and would fail the
    # whole export over an invisible character.
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


def _as_text(cell: Any) -> None:
    # openpyxl stores any string that starts with "=" as a formula: a member named
    # =WEBSERVICE(...) would run in the spreadsheet of whoever opens the export. Every string
    # is written as a string; numbers and dates stay numbers and dates.
    if isinstance(cell.value, str):
        cell.data_type = "s"


# A spreadsheet opening a CSV runs any cell that starts with one of these as a formula
# (OWASP, "CSV Injection"); such a cell is written with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a BOM (so Excel reads the Chinese), every cell as text, never a formula."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([_csv_text(cell) for cell in headers])
    for row in rows:
        writer.writerow([_csv_text(cell) for cell in row])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode()


def _csv_text(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def parse_date_cell(text: str, label: str = "日期") -> date:
    """A date cell, read by the input layer's one date rule (an XLSX date cell arrives here as
    YYYY-MM-DD)."""
    return parse_date(text, label)
