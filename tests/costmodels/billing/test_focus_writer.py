"""FOCUS writer and ``planner billing convert``: output order, types, round trip, CLI messages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from costmodels.billing.focus_writer import write_focus
from costmodels.billing.readers import read_billing
from costmodels.billing.schema import WRITTEN_EXTRA_COLUMNS, focus_columns
from planner.cli.main import app

CUR_SAMPLE = ("billing-samples/focus-converters/test-fixtures/"
              "aws-legacy-cur-sample-anonymous-aws-export-dataset.csv")


@pytest.mark.parametrize("version", ["1.3", "1.2"])
@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_written_focus_round_trips(shared_data: Path, tmp_path: Path, suffix: str,
                                   version: str) -> None:
    source = read_billing([str(shared_data / CUR_SAMPLE)])
    out = write_focus(source.frame, tmp_path / f"out.{suffix}", version=version)
    header = (pl.read_parquet_schema(out) if suffix == "parquet"
              else pl.read_csv(out, n_rows=0).schema)
    assert list(header) == [*focus_columns(version), *WRITTEN_EXTRA_COLUMNS]
    back = read_billing([str(out)])
    assert back.formats[str(out)] == f"focus-{version}"
    assert back.reconciliation.balanced
    assert abs(back.reconciliation.money_in - source.reconciliation.money_in) < Decimal("0.005")
    a = source.frame.collect()
    b = back.frame.collect()
    for column in ("BillingAccountId", "ChargeCategory", "ServiceCategory", "ChargePeriodStart",
                   "PricingUnit", "x_Provider"):
        assert a[column].to_list() == b[column].to_list(), column
    if suffix == "csv":
        assert '"123412340534"' in out.read_text().splitlines()[1]


def test_convert_cli_prints_reconciliation(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "focus.parquet"
    result = CliRunner().invoke(app, ["billing", "convert", str(shared_data / CUR_SAMPLE),
                                      "--to", "focus", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "1281 in = 1281 out + 0 rejected" in result.output
    assert "reconciliation balanced" in result.output
    assert "(FOCUS 1.3, focus)" in result.output
    assert pl.read_parquet(out).height == 1281


def test_convert_cli_reports_a_malformed_file_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "cut.csv.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = CliRunner().invoke(app, ["billing", "convert", str(bad), "--output",
                                      str(tmp_path / "o.parquet")])
    assert result.exit_code == 1
    assert "cut.csv.gz is a truncated or corrupt gzip" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_writing_file_by_file_gives_the_same_file(tmp_path: Path, suffix: str) -> None:
    """``convert`` streams one input file at a time (``parts``) to bound memory: the output is
    the same rows, in the same order, as writing the concatenated frame."""
    data = Path(__file__).parent / "data"
    sources = [data / "aws_commitments_cur.csv.gz", *sorted((data / "gcp").glob("*.csv.gz"))]
    read = read_billing([str(s) for s in sources])
    assert len(read.parts) == len(sources)
    whole = write_focus(read.frame, tmp_path / f"whole{suffix}")
    parts = write_focus(read.frame, tmp_path / f"parts{suffix}", parts=read.parts)
    def load(path: Path) -> pl.DataFrame:
        return pl.read_parquet(path) if suffix == ".parquet" else pl.read_csv(path, infer_schema=False)
    assert load(whole).equals(load(parts))
    assert not list(tmp_path.glob(".focus-parts-*"))  # the temporary parts are gone
