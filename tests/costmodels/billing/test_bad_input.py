"""Bad billing input through the CLI: every case has a clear message, a count, one exit code for
``convert``, ``review`` and ``rates`` alike, and ``--strict`` fails on any data warning.

Exit codes (``planner billing --help``): 0 done (warnings printed and counted), 1 input error or
reconciliation NOT BALANCED (nothing written), 2 usage error, 4 ``--strict`` and a data warning
(nothing written).
"""

from __future__ import annotations

import csv
import io
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodels.billing.readers import Reconciliation, read_billing
from planner.cli.main import app

runner = CliRunner()
COMMANDS = ("convert", "review", "rates")

HEADER = ("BillingAccountId,ProviderName,BilledCost,EffectiveCost,ChargeCategory,"
          "ChargePeriodStart,ChargePeriodEnd,BillingPeriodStart,BillingPeriodEnd,ServiceCategory,"
          "ServiceSubcategory,ServiceName,x_InstanceType,x_UsageHours,x_PurchaseOption")
WIDTH = len(HEADER.split(","))


def _row(i: int, cost: str, *, service: str = "EC2") -> str:
    hour = f"2026-10-{1 + i // 24 % 28:02d}T{i % 24:02d}"
    return (f"012345678901,AWS,{cost},{cost},Usage,{hour}:00:00Z,{hour}:59:00Z,"
            f"2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Compute,Virtual Machines,{service},"
            "g5.xlarge,1,on_demand")


def _write(folder: Path, name: str, lines: list[str], *, end: str = "\n",
           encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(("\n".join(lines) + end).encode(encoding))
    return path


def _good_rows(n: int = 5) -> list[str]:
    return [_row(i, "1.25") for i in range(n)]


def _invoke(command: str, path: Path, *extra: str):
    """Run one billing command on ``path``; convert writes next to it, to a new file."""
    out = path.with_name(f"{path.stem}-{command}{''.join(extra)}-out.parquet")
    args = {"convert": ["convert", str(path), "--output", str(out)],
            "review": ["review", str(path), "--format", "json"],
            "rates": ["rates", str(path), "--format", "csv"]}[command]
    result = runner.invoke(app, ["billing", *args, *extra])
    result.written = out.exists() if command == "convert" else bool(result.stdout.strip())
    return result


def _all(path: Path, *extra: str) -> dict[str, object]:
    return {command: _invoke(command, path, *extra) for command in COMMANDS}


def _codes(results: dict[str, object]) -> dict[str, int]:
    return {command: r.exit_code for command, r in results.items()}


def test_a_clean_file_passes_strict_in_every_command(tmp_path: Path) -> None:
    path = _write(tmp_path, "clean.csv", [HEADER, *_good_rows()])
    results = _all(path, "--strict")
    assert _codes(results) == dict.fromkeys(COMMANDS, 0), {c: r.output for c, r in results.items()}
    for result in results.values():
        assert "(balanced)" in result.stderr and "oddities: 0" in result.stderr
        assert "data warnings" not in result.stderr and result.written


def test_a_short_last_row_is_rejected_and_never_balanced(tmp_path: Path) -> None:
    short = ",".join(_row(5, "2.00").split(",")[:9])  # 9 of 15 fields, then a line break
    path = _write(tmp_path, "short.csv", [HEADER, *_good_rows(), short])
    results = _all(path)
    assert _codes(results) == dict.fromkeys(COMMANDS, 0)
    for result in results.values():
        err = result.stderr
        assert "rows 6 in = 5 out + 1 rejected" in err
        assert (f"rejected 1 row(s) of {path}: row has fewer fields than the header" in err
                and f"row 6: 9 of {WIDTH} fields (from column ServiceCategory on, no field)" in err)
        assert "(INCOMPLETE: 1 rejected amount(s) unknown" in err and "(balanced)" not in err
        assert "6.25 + ? in = 6.25 out + ? rejected" in err  # its 2.00 is not trusted
        assert "data warnings: 1 rejected row(s), 1 with an amount unknown" in err
    assert "reconciliation INCOMPLETE" in results["convert"].stdout
    strict = _all(path, "--strict")
    assert _codes(strict) == dict.fromkeys(COMMANDS, 4)
    for result in strict.values():
        assert "--strict: 1 rejected row(s)" in result.stderr and not result.written


@pytest.mark.parametrize("cut, what", [
    (60, (f"it has 7 of {WIDTH} fields and no line break ends it (from column "
          "ChargePeriodEnd on, missing or cut short)")),
    (None, f"it ends inside the quoted field ServiceName (field 12 of {WIDTH})"),
])
def test_a_file_cut_off_mid_row_is_an_input_error(tmp_path: Path, cut: int | None,
                                                  what: str) -> None:
    last = (_row(5, "2.00")[:cut] if cut is not None
            else _row(5, "2.00").replace(",EC2,", ',"EC2 in us-east'))
    path = _write(tmp_path, "cut.csv", [HEADER, *_good_rows(), last], end="")
    for strict in ((), ("--strict",)):
        results = _all(path, *strict)
        assert _codes(results) == dict.fromkeys(COMMANDS, 1)
        for result in results.values():
            assert f"{path}: the file is cut off in row 6: {what}; download the file again" \
                in result.stderr
            assert "balanced" not in result.output and not result.written


def test_an_amount_that_is_not_a_number_is_counted_as_unknown_money(tmp_path: Path) -> None:
    path = _write(tmp_path, "abc.csv", [HEADER, *_good_rows(), _row(5, "abc")])
    results = _all(path)
    assert _codes(results) == dict.fromkeys(COMMANDS, 0)
    for result in results.values():
        err = result.stderr
        assert (f"rejected 1 row(s) of {path}: BilledCost is not a number, e.g. row 6 column "
                "BilledCost value 'abc'") in err
        assert "BilledCost (billed cost): 6.25 + ? in = 6.25 out + ? rejected" in err
        assert "(INCOMPLETE: 1 rejected amount(s) unknown: row 6 'abc')" in err
        assert "0.00 rejected" not in err
    assert _codes(_all(path, "--strict")) == dict.fromkeys(COMMANDS, 4)
    rec = read_billing([str(path)]).reconciliation
    assert (rec.rows_rejected, rec.amounts_unknown, rec.verdict) == (1, 1, "INCOMPLETE")
    assert rec.money_in == rec.money_out == Decimal("6.25") and rec.money_rejected == 0


def test_a_thousands_separator_is_rejected_with_its_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "thousands.csv", [HEADER, *_good_rows(), _row(5, '"1,234.50"')])
    results = _all(path)
    assert _codes(results) == dict.fromkeys(COMMANDS, 0)
    hint = "'1,234.50' (thousands separators are not read; write 1234.50)"
    for result in results.values():
        err = result.stderr
        assert f"e.g. row 6 column BilledCost value {hint}" in err
        assert f"(INCOMPLETE: 1 rejected amount(s) unknown: row 6 {hint})" in err
        assert "? rejected" in err and "0.00 rejected" not in err
    assert _codes(_all(path, "--strict")) == dict.fromkeys(COMMANDS, 4)


def test_a_1e15_row_and_many_cents_reconcile_exactly(tmp_path: Path) -> None:
    cents = [_row(i, "0.01") for i in range(2, 2002)]
    path = _write(tmp_path, "huge.csv", [HEADER, _row(0, "1e15"), _row(1, "1000000000000000.37"),
                                         *cents])
    total = Decimal("2000000000000020.37")  # 1e15 + 1e15 + 0.37 + 2000 x 0.01, exactly
    rec = read_billing([str(path)]).reconciliation
    assert rec.balanced and rec.complete and rec.verdict == "balanced"
    assert rec.money_in == rec.money_out == total and rec.money_rejected == 0
    results = _all(path, "--strict")
    assert _codes(results) == dict.fromkeys(COMMANDS, 0)
    for result in results.values():
        assert ("rows 2,002 in = 2,002 out + 0 rejected; cost 2,000,000,000,000,020.37 in = "
                "2,000,000,000,000,020.37 out + 0.00 rejected (balanced)") in result.stderr
        assert "NOT BALANCED" not in result.stderr


def test_bytes_that_are_not_utf8_are_an_oddity_with_their_offset(tmp_path: Path) -> None:
    rows = _good_rows()
    rows[1] = _row(1, "1.25", service="EC2 caf\xe9")
    path = _write(tmp_path, "latin1.csv", [HEADER, *rows], encoding="latin-1")
    offset = path.read_bytes().index(b"\xe9")
    results = _all(path)
    assert _codes(results) == dict.fromkeys(COMMANDS, 0)
    for result in results.values():
        err = result.stderr
        assert (f"oddity invalid_utf8: {path} column ServiceName: 1 x, e.g. " in err
                and f"1 byte sequence(s) that are not UTF-8, the first (\\xe9) at byte {offset} "
                    "(row 2, column ServiceName)" in err)
        assert "oddities: 1" in err and "data warnings: 1 oddity (invalid_utf8)" in err
    strict = _all(path, "--strict")
    assert _codes(strict) == dict.fromkeys(COMMANDS, 4)
    for result in strict.values():
        assert "--strict: 1 oddity (invalid_utf8); nothing written" in result.stderr
        assert not result.written


def test_a_duplicate_column_name_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "dupes.csv", [HEADER + ",BilledCost",
                                          *[r + ",9.99" for r in _good_rows()]])
    results = _all(path)
    assert _codes(results) == dict.fromkeys(COMMANDS, 1)
    for result in results.values():
        assert (f"error: {path}: column BilledCost appears 2 times in the header (fields 3, "
                f"{WIDTH + 1}); every column needs its own name") in result.stderr
        assert not result.written


def test_a_row_wider_than_the_header_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "wide.csv", [HEADER, *_good_rows(), _row(5, "1,25")])
    results = _all(path)
    assert _codes(results) == dict.fromkeys(COMMANDS, 1)
    for result in results.values():
        assert (f"{path}: row 6 has {WIDTH + 2} fields but the header has {WIDTH}"
                in result.stderr)


def test_not_balanced_is_exit_1_everywhere_and_writes_nothing(tmp_path: Path,
                                                              monkeypatch) -> None:
    path = _write(tmp_path, "clean.csv", [HEADER, *_good_rows()])
    monkeypatch.setattr(Reconciliation, "balanced", property(lambda self: False))
    results = _all(path)
    assert _codes(results) == dict.fromkeys(COMMANDS, 1)
    for result in results.values():
        assert "error: reconciliation NOT BALANCED" in result.stderr and not result.written


def test_the_exit_codes_are_in_every_command_help() -> None:
    for command in COMMANDS:
        result = runner.invoke(app, ["billing", command, "--help"], env={"COLUMNS": "200"})
        text = " ".join(result.stdout.split())
        assert "Exit codes: 0 done" in text and "4 --strict and a data warning" in text
        assert "--strict" in text


def test_review_json_notes_say_incomplete(tmp_path: Path) -> None:
    path = _write(tmp_path, "abc.csv", [HEADER, *_good_rows(), _row(5, "abc")])
    doc = json.loads(_invoke("review", path).stdout)
    assert doc["notes"][0] == ("reconciliation: rows 6 in = 5 out + 1 rejected; cost 6.25 + ? "
                               "in = 6.25 out + ? rejected (INCOMPLETE: 1 rejected amount(s) "
                               "unknown)")


def test_a_short_row_is_named_by_the_same_row_number_as_polars(tmp_path: Path) -> None:
    rows = _good_rows(4)
    rows[0] = rows[0].replace(",EC2,", ',"EC2\nin two lines",')  # one row over two lines
    short = ",".join(_row(9, "2.00").split(",")[:12])
    path = _write(tmp_path, "middle.csv", [HEADER, rows[0], rows[1], "", rows[2], short, rows[3]])
    read = read_billing([str(path)])
    (bad,) = read.reconciliation.rejected
    assert (bad.row, bad.value) == (5, f"12 of {WIDTH} fields")
    assert read.frame.collect()["x_SourceRow"].to_list() == [1, 2, 4, 6]
    assert any(o.kind == "blank_rows" for o in read.oddities)


def test_the_csv_layout_scan_agrees_with_the_csv_module(tmp_path: Path, monkeypatch) -> None:
    """Random quoting (commas, quotes, line breaks in fields), CRLF, blank lines and rows of
    the wrong width, scanned in chunks as small as one byte."""
    import costmodels.billing._sources as sources

    rng = random.Random(11)
    alphabet = ["a", "b", ",", '"', "\n", " ", "é", "1"]
    for _ in range(200):
        width = rng.randint(1, 6)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=rng.choice(["\n", "\r\n"]))
        writer.writerow([f"h{i}" for i in range(width)])
        widths: list[int | None] = []
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.05:
                buffer.write("\n")
                widths.append(None)
                continue
            n = rng.choice([width] * 4 + [max(1, width - 1), max(1, width - 2)])
            fields = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
                      for _ in range(n)]
            writer.writerow(fields if fields != [""] else ["x"])
            widths.append(n)
        path = tmp_path / "random.csv"
        path.write_bytes(buffer.getvalue().encode())
        monkeypatch.setattr(sources, "_CHUNK", rng.choice([1, 2, 3, 7, 64, 1 << 20]))
        layout = sources.inspect_csv(path)
        assert layout.header == tuple(f"h{i}" for i in range(width))
        assert layout.short_rows == tuple((i + 1, n) for i, n in enumerate(widths)
                                          if n is not None and n < width)
        assert layout.cut_row is None and layout.long_row is None and layout.bad_bytes is None
