"""Reading the import templates as a person does: the notes sheet's example row, copied into
the sheet to fill."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from gonghui.core.tabular import NOTES_SHEET


def example_row(template: bytes) -> list[str]:
    notes = load_workbook(io.BytesIO(template))[NOTES_SHEET]
    return [str(cell.value) for cell in notes[notes.max_row]]


def filled_with_example(template: bytes) -> bytes:
    """The template with its own example row written on the first line to fill."""
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook.worksheets[0]
    for column, value in enumerate(example_row(template), start=1):
        sheet.cell(2, column).value = value
        sheet.cell(2, column).data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def drop_downs(template: bytes) -> dict[str, list[str]]:
    """Each column with a drop-down list, and the values it offers."""
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    found: dict[str, list[str]] = {}
    for rule in sheet.data_validations.dataValidation:
        column = str(rule.sqref).split(":")[0].rstrip("0123456789")
        target = headers[sum((ord(c) - 64) * 26**i for i, c in enumerate(reversed(column))) - 1]
        source, cells = rule.formula1.split("!")
        first, last = cells.replace("$", "").split(":")
        values = workbook[source.strip("'")][f"{first}:{last}"]
        found[str(target)] = [str(row[0].value) for row in values]
    return found
