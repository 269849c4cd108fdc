"""The first-run notice (issue 17): which patterns' kernels are not compiled on this machine."""

from __future__ import annotations

import numba

from planner.cli.common import compile_notice
from simulators.core.jit import COMPILE_S, _cache_folder, cold_kernels


def test_an_empty_cache_is_cold_and_a_compiled_package_is_warm(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert list(cold_kernels(["realtime", "llm", "realtime"])) == ["realtime", "llm"]
    other = tmp_path / "realtime_0123abcd"  # another checkout's kernels
    other.mkdir()
    (other / "_kernel.realtime_kernel-1.py311.1.nbc").write_bytes(b"")
    assert "realtime" in cold_kernels(["realtime"])
    ours = _cache_folder("realtime")
    assert ours.parent == tmp_path and ours.name.startswith("realtime_")
    ours.mkdir()
    (ours / "_kernel.realtime_kernel-1.py311.nbi").write_bytes(b"")
    assert "realtime" in cold_kernels(["realtime"])  # an index without compiled code
    (ours / "_fleet.helper-3.py311.1.nbc").write_bytes(b"")
    assert "realtime" in cold_kernels(["realtime"])  # a helper, not the entry kernel
    (ours / "_kernel.realtime_kernel-1.py311.1.nbc").write_bytes(b"")
    assert list(cold_kernels(["realtime", "llm"])) == ["llm"]
    assert cold_kernels(["unknown-pattern"]) == {}


def test_the_notice_names_the_kernels_and_sums_their_estimates(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert compile_notice(["realtime", "batch"], quiet=False) == "realtime, batch"
    err = " ".join(capsys.readouterr().err.split())
    seconds = COMPILE_S["realtime"] + COMPILE_S["batch"]
    assert "compiling the realtime, batch simulation kernels" in err
    assert f"about {seconds:.0f} s on 2 cores" in err and str(tmp_path) in err
    assert compile_notice(["batch"], quiet=True) == "batch"
    assert capsys.readouterr().err == ""
