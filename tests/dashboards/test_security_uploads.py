"""Uploads are bounded and expire (issue 19, Security 2 and 4), over HTTP.

Against the callback endpoint of the real app on 127.0.0.1: the issue's billion-laughs
uploads (about 330 and 370 bytes) and 50,000 nested ``[`` are refused at once with a message,
a key written twice is named with its lines, and the server answers 200 throughout. Billing
uploads older than the time to live are deleted at start-up and while the app serves, and a
temporary work folder the app made goes when its process exits.
"""

from __future__ import annotations

import base64
import os
import string
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest

from dashboards import uploads
from tests.dashboards._http import DashSession, serve, text_of

REPO = Path(__file__).resolve().parents[2]


def data_url(raw: bytes, kind: str = "application/x-yaml") -> str:
    return f"data:{kind};base64," + base64.b64encode(raw).decode()


def laughs(levels: int) -> bytes:
    """A scenario with ``levels`` nested alias levels of 9 (``9**levels`` values expanded)."""
    names = string.ascii_lowercase
    lines = ["name: laughs", "horizon_s: 60", "a: &a [x,x,x,x,x,x,x,x,x]"]
    lines += [f"{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * 9)}]"
              for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def server(settings):
    from dashboards.app import create_app

    app = create_app(scenarios_dir=settings.scenarios_dir, work_dir=settings.work_dir,
                     upload_ttl_s=4.0)
    with serve(app.server) as base:
        yield base


def upload_message(session: DashSession, raw: bytes, filename: str) -> tuple[str, object]:
    answer = session.call(session.dependency("scn-upload-msg", "children"),
                          {"scn-upload.contents": data_url(raw)},
                          {"scn-upload.filename": filename})
    return text_of(answer["scn-upload-msg"]["children"]), answer.get("scn-choice")


def test_billion_laughs_uploads_are_refused_at_once(server):
    with DashSession(server) as session:
        session.open("/")
        for levels in (9, 10):
            raw = laughs(levels)
            assert len(raw) < 410  # the 336- and 406-byte uploads
            began = time.monotonic()
            message, choice = upload_message(session, raw, "laughs.yaml")
            assert time.monotonic() - began < 1.0
            assert choice is None  # nothing stored, the choice unchanged
            assert message.startswith("laughs.yaml: line ")
            assert "more than 20,000 values once its aliases (*name) are expanded" in message
        assert all(code == 200 for _, code in session.statuses)


def test_the_upload_path_stays_small_in_memory(settings):
    from dashboards import scenario_logic as logic
    from domain.errors import ScenarioError

    tracemalloc.start()
    with pytest.raises(ScenarioError, match="values once its aliases"):
        logic.store_upload(settings, data_url(laughs(10)), "laughs.yaml")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10e6


def test_deep_nesting_and_repeated_keys_are_messages_over_http(server, settings):
    with DashSession(server) as session:
        session.open("/")
        message, _ = upload_message(session, b"[" * 50_000, "deep.yaml")
        assert message.startswith("deep.yaml: line 1, column 33: nesting deeper than 32 levels")
        text = (settings.scenarios_dir / "tiny.yaml").read_text().replace(
            "seed: 3\n", "seed: 3\nreplications: 4\n")
        message, _ = upload_message(session, text.encode(), "twice.yaml")
        assert message == ("twice.yaml: line 7, column 1: key 'replications' is written twice "
                           "in this mapping (first at line 5); keep one of them")
        assert all(code == 200 for _, code in session.statuses)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (then, then))
    os.utime(path, (then, then))


def test_billing_uploads_expire_while_the_app_serves(server, settings):
    cur = (REPO / "tests" / "costmodels" / "billing" / "data" / "aws_commitments_cur.csv.gz"
           ).read_bytes()  # a real (nise-generated) AWS CUR
    with DashSession(server) as session:
        session.open("/cost-review")
        answer = session.call(session.dependency("cr-token", "data"),
                              {"cr-upload.contents": data_url(cur, "application/gzip")},
                              {"cr-upload.filename": "cur.csv.gz"})
        token = answer["cr-token"]["data"]
        folder = settings.upload_dir / token
        assert (folder / "cur.csv.gz").read_bytes() == cur
        fresh = settings.upload_dir / ("f" * 32)
        fresh.mkdir()
        (fresh / "new.csv").write_text("x")
        _age(folder, 5.0)  # past the 4 s time to live; ``fresh`` is not
        time.sleep(1.1)  # the janitor runs at most every ttl / 4 = 1 s
        session.open("/")
        assert not folder.exists() and fresh.exists()


def test_old_uploads_go_at_start_up_and_recent_ones_stay(settings):
    from dashboards.app import create_app

    old, recent = settings.upload_dir / ("a" * 32), settings.upload_dir / ("b" * 32)
    for folder in (old, recent):
        folder.mkdir()
        (folder / "cur.csv").write_text("x")
    _age(old, uploads.UPLOAD_TTL_S + 60)
    _age(recent, uploads.UPLOAD_TTL_S - 60)
    create_app(scenarios_dir=settings.scenarios_dir, work_dir=settings.work_dir)
    assert not old.exists() and (recent / "cur.csv").exists()


def test_the_temporary_work_folder_goes_when_the_server_exits(tmp_path):
    code = textwrap.dedent("""
        from dashboards.app import create_app
        from dashboards.settings import SETTINGS_KEY
        app = create_app()
        work = app.server.config[SETTINGS_KEY].work_dir
        (work / "uploads" / ("c" * 32)).mkdir()
        (work / "uploads" / ("c" * 32) / "cur.csv").write_text("x")
        print(work)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=False,
                         env={**os.environ, "TMPDIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    work = Path(out.stdout.strip().splitlines()[-1])
    assert work.parent == tmp_path and work.name.startswith("planner-dashboard-")
    assert not work.exists()
