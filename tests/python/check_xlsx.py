"""Reads a form written by `tiepdan report --form … --xlsx FILE` with openpyxl, an
independent reader, and checks it cell by cell against the form as the node answered it
(EXPECTED, JSON written by client/tests/forms.rs): the header block and its dates, the
merged group headers, the MS row, every figure as a number (an unrecorded column empty),
the notes line. Prints what it checked; exits non-zero with every difference."""

import json
import sys

import openpyxl


def main(xlsx_path, expected_path):
    want = json.load(open(expected_path, encoding="utf-8"))
    ws = openpyxl.load_workbook(xlsx_path).active
    problems = []

    def expect(what, got, wanted):
        if got != wanted:
            problems.append(f"{what}: file has {got!r}, expected {wanted!r}")

    n = len(want["columns"])
    expect("A1", ws.cell(1, 1).value, "Đơn vị báo cáo: " + want["unit_name"])
    expect("form code", ws.cell(1, n + 1).value, "Biểu số: " + want["code"])
    expect("title", ws.cell(2, 1).value, want["title"])
    expect("period line", ws.cell(3, 1).value,
           f"Số liệu tính từ ngày {want['start']} đến ngày {want['end']}")
    merged = {str(r) for r in ws.merged_cells.ranges}
    depth = max(len(c["group"]) for c in want["columns"]) + 1
    top = 6  # 1-based: the header starts on the sixth row
    bottom = top + depth - 1
    expect("first header cell", ws.cell(top, 1).value, "Đơn vị")
    for j, c in enumerate(want["columns"]):
        col = j + 2
        label_row = top + len(c["group"])
        expect(f"label of column {c['number']}", ws.cell(label_row, col).value, c["label"])
        for level, name in enumerate(c["group"]):
            # The group's cell is the first of its run; its text is there.
            first = col
            while first > 2:
                prev = want["columns"][first - 3]
                if len(prev["group"]) > level and prev["group"][: level + 1] == c["group"][: level + 1]:
                    first -= 1
                else:
                    break
            expect(f"group {level} over column {c['number']}", ws.cell(top + level, first).value, name)
        expect(f"MS of column {c['number']}", ws.cell(bottom + 1, col).value, c["ms"])
    runs = [r for r in merged if r.count(":") == 1]
    if not any(ws[r.split(":")[0]].row == top and ws[r.split(":")[0]].column > 1 for r in runs):
        problems.append("no group header is merged across columns")
    expect("MS row", ws.cell(bottom + 1, 1).value, "MS")
    for i, row in enumerate(want["rows"]):
        r = bottom + 2 + i
        expect(f"row {i} label", ws.cell(r, 1).value, row["label"])
        for j, value in enumerate(row["values"]):
            got = ws.cell(r, j + 2).value
            if value is None:
                if got is not None:
                    problems.append(f"row {i} column {j + 1}: {got!r} where nothing is recorded")
            elif not isinstance(got, (int, float)) or abs(got - value) > 1e-9:
                problems.append(f"row {i} column {j + 1}: {got!r}, expected the number {value}")
    notes = ws.cell(bottom + 2 + len(want["rows"]), 1).value or ""
    if not notes.startswith(f"{n + 1}. Ghi chú:"):
        problems.append(f"notes line: {notes!r}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    cells = len(want["rows"]) * n
    print(f"{xlsx_path}: {want['code']}, {len(want['rows'])} rows × {n} columns ({cells} cells), "
          f"{len(merged)} merged ranges, header and dates as expected")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
