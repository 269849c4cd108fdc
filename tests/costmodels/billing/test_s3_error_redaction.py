"""Billing exports read from S3 print no credential when the endpoint echoes the request.

Issue 19 (item 6) found ``prices refresh`` printing the access key id and session token that a
hostile endpoint echoed in its error; ``planner billing review s3://...`` quotes S3's errors
too. A loopback server answers every S3 call with an error whose message is the request's
headers, and the real boto3 client calls it as the product does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from tests.costmodels.fakes.aws_pricing import isolate_aws_env

pytest.importorskip("boto3")

ACCESS_KEY_ID = "ASIAZ7EXAMPLEQ4KEY7Q"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6EXAMPLEsessionTOKEN"
                 "4wYrbnq0Ph7nQwK6y0JmZy9pC2A8bY5eG1kz")


class _EchoS3(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
                f"<Message>denied, your request was: {escape(echoed)}</Message></Error>").encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def echo_s3(monkeypatch, tmp_path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoS3)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    isolate_aws_env(monkeypatch, tmp_path, key_id=ACCESS_KEY_ID, secret=SECRET_KEY,
                    token=SESSION_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.server_port}")
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_review_of_an_s3_prefix_prints_no_credential_echoed_by_s3(echo_s3) -> None:
    result = CliRunner().invoke(app, ["billing", "review", "s3://billing-bucket/cur/"])
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "cannot list s3://billing-bucket/cur/" in output and "AccessDenied" in output
    assert "denied, your request was" in output  # the error still says what S3 said
    assert "<redacted>" in output and "Traceback" not in output
    for secret in (ACCESS_KEY_ID, SECRET_KEY, SESSION_TOKEN, SESSION_TOKEN[:24]):
        assert secret not in output


@pytest.mark.parametrize("uri,hint", [("gs://bucket/billing/x.csv", "gcloud storage cp"),
                                      ("https://example.com/x.csv", "local folder")])
def test_other_remote_uris_are_refused_with_the_fix_not_read_as_local_paths(uri, hint):
    """Only s3:// is fetched; another scheme was looked up as a relative local path and
    reported 'does not exist'."""
    result = CliRunner().invoke(app, ["billing", "review", uri])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"billing file {uri}" in text and "is not read directly (only s3:// is)" in text
    assert hint in text and "does not exist" not in text
