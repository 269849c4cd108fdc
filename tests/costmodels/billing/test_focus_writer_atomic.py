"""``write_focus`` (behind ``planner billing convert --output``) never leaves a torn file.

Issue 19: convert wrote in place, so a killed run left a CSV with a torn last row that converted
again as "balanced".  The dataset now goes to a hidden temporary file renamed when complete: a
failed or killed run leaves the previous file untouched.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from costmodels.billing import focus_writer
from costmodels.billing.focus_writer import write_focus
from costmodels.billing.readers import read_billing

DATA = Path(__file__).parent / "data"
SOURCES = [DATA / "aws_commitments_cur.csv.gz", *sorted((DATA / "gcp").glob("*.csv.gz"))]
OLD = b"the previous output, which a failed run must leave as it was\n"


def test_a_run_killed_while_appending_parts_leaves_the_old_file(tmp_path: Path) -> None:
    """SIGKILL in the middle of the multi-file Parquet write (after the first part is appended,
    before the file's footer exists): the old file is byte for byte intact."""
    assert len(SOURCES) > 2
    out = tmp_path / "focus.parquet"
    out.write_bytes(OLD)
    script = textwrap.dedent(f"""
        import os, signal
        from costmodels.billing import focus_writer
        from costmodels.billing.readers import read_billing

        real = focus_writer._PartAppender.append
        calls = []

        def append_then_die(self, part):
            real(self, part)
            calls.append(part)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)

        focus_writer._PartAppender.append = append_then_die
        read = read_billing({[str(s) for s in SOURCES]!r})
        focus_writer.write_focus(read.frame, {str(out)!r}, parts=read.parts)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120,
                          check=False)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert out.read_bytes() == OLD
    # what the killed run left is hidden beside it, never under the output's name
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["focus.parquet"]


def test_a_failed_csv_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                                 monkeypatch) -> None:
    out = tmp_path / "focus.csv"
    out.write_bytes(OLD)
    real = focus_writer._sink

    def sink_then_fail(frame, path, fmt):
        real(frame, path, fmt)  # a whole file written, then the run fails before it ends
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(focus_writer, "_sink", sink_then_fail)
    read = read_billing([str(SOURCES[0])])
    with pytest.raises(OSError, match="No space left"):
        write_focus(read.frame, out)
    assert out.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["focus.csv"]
    monkeypatch.setattr(focus_writer, "_sink", real)
    write_focus(read.frame, out)  # a complete run replaces it
    written = pl.read_csv(out, infer_schema=False)
    assert written.height == read.frame.collect().height
    assert sorted(p.name for p in tmp_path.iterdir()) == ["focus.csv"]


def test_a_link_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "store" / "focus.csv"
    real.parent.mkdir()
    real.write_bytes(OLD)
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    read = read_billing([str(SOURCES[0])])
    write_focus(read.frame, link)
    assert link.is_symlink() and link.resolve() == real
    assert pl.read_csv(real, infer_schema=False).height == read.frame.collect().height
    assert sorted(p.name for p in real.parent.iterdir()) == ["focus.csv"]
