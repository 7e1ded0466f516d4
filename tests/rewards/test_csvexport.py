"""CSV for Excel: a BOM, ';' between fields, CRLF, and no cell that Excel would run as a formula."""

from __future__ import annotations

from rewards.csvexport import csv_lines


def test_lines_for_excel() -> None:
    lines = list(csv_lines(["Лицевой счёт", "Итог"], [["=HYPERLINK(1)", -3], ["a;b", None], ["+7", "@x"]]))
    assert lines[0] == "\ufeffЛицевой счёт;Итог\r\n"
    assert lines[1] == "'=HYPERLINK(1);-3\r\n"  # text starting with '=' is made text; a number stays one
    assert lines[2] == '"a;b";\r\n'
    assert lines[3] == "'+7;'@x\r\n"
