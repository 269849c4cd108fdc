"""No credential reaches the terminal from ``planner prices refresh``.

Issue 19: a hostile endpoint that echoed the request headers in its error made the CLI print the
access key id and the session token.  Here a loopback HTTP server answers every request with an
error whose text is the request's headers (what a hostile or debugging proxy does), and the real
boto3 and google-cloud-billing clients call it as the product does.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costmodels.providers.redact import REDACTED, redact
from domain.errors import CatalogError
from planner.cli.main import app
from tests.costmodels.fakes.aws_pricing import isolate_aws_env

pytest.importorskip("boto3")

ACCESS_KEY_ID = "ASIAZ7EXAMPLEQ4KEY7Q"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD6EXAMPLEsessionTOKEN"
                 "4wYrbnq0Ph7nQwK6y0JmZy9pC2A8bY5eG1kz")
GOOGLE_TOKEN = "ya29.a0AfB_byEXAMPLE-oauth-access-token_0123456789abcdef"
GOOGLE_API_KEY = "AIzaSyEXAMPLE0123456789abcdefghijklmnop"


class _EchoHeaders(BaseHTTPRequestHandler):
    """Every request fails with an error whose message is the request's headers."""

    status = 400
    aws_code = "AccessDeniedException"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        if "googleapis" in self.headers.get("x-goog-api-client", "") or \
                "/v1/services" in self.path:
            body = {"error": {"code": 403, "status": "PERMISSION_DENIED",
                              "message": f"denied, your request was {dict(self.headers)!r}"}}
            status = 403
        else:
            body = {"__type": self.server.aws_code,  # type: ignore[attr-defined]
                    "message": f"denied, your request was: {echoed}"}
            status = self.status
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def echo_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHeaders)
    server.aws_code = "AccessDeniedException"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture()
def aws_env(monkeypatch, tmp_path):
    isolate_aws_env(monkeypatch, tmp_path, key_id=ACCESS_KEY_ID, secret=SECRET_KEY,
                    token=SESSION_TOKEN)
    monkeypatch.setenv("PLANNER_PRICE_CACHE", str(tmp_path / "prices"))


def _leaks(text: str) -> list[str]:
    secrets = {"access key id": ACCESS_KEY_ID, "secret key": SECRET_KEY,
               "session token": SESSION_TOKEN, "token prefix": SESSION_TOKEN[:24],
               "google token": GOOGLE_TOKEN, "google api key": GOOGLE_API_KEY}
    return [name for name, value in secrets.items() if value in text]


@pytest.mark.parametrize("code", ["AccessDeniedException", "ValidationException"])
def test_refresh_prints_no_aws_credential_echoed_by_the_endpoint(echo_server, aws_env, code):
    echo_server.aws_code = code
    url = f"http://127.0.0.1:{echo_server.server_port}"
    result = CliRunner().invoke(app, [
        "prices", "refresh", "--provider", "aws", "--instances", "p5.48xlarge",
        "--endpoint-url-pricing", url, "--endpoint-url-ec2", url,
        "--endpoint-url-savingsplans", url])
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert code in output and "denied, your request was" in output  # the error still says why
    assert "Authorization: <redacted>" in output
    assert "X-Amz-Security-Token: <redacted>" in output
    assert re.search(r"Signature=[0-9a-f]{8}", output) is None  # the request's signature
    assert "Signature=<redacted>" in output and "Traceback" not in output
    assert _leaks(output) == []


def test_refresh_logs_no_credential_when_the_clients_log_at_debug(echo_server, aws_env,
                                                                 monkeypatch):
    """A user who turns botocore's DEBUG logging on sees the request headers, redacted.  The
    credentials come from a profile file here, so only the patterns can find them."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    credentials.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\n"
                           f"aws_secret_access_key = {SECRET_KEY}\n"
                           f"aws_session_token = {SESSION_TOKEN}\n")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        url = f"http://127.0.0.1:{echo_server.server_port}"
        result = CliRunner().invoke(app, [
            "prices", "refresh", "--provider", "aws", "--instances", "p5.48xlarge",
            "--endpoint-url-pricing", url, "--endpoint-url-ec2", url,
            "--endpoint-url-savingsplans", url])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logged = stream.getvalue()
    assert result.exit_code == 1
    assert "X-Amz-Security-Token" in logged  # botocore did log the request's headers
    assert _leaks(logged) == [] and _leaks(result.stdout + result.stderr) == []


@pytest.mark.parametrize("how", ["token", "api key"])
def test_gcp_errors_carry_no_bearer_token_or_api_key(echo_server, how, monkeypatch):
    from google.cloud import billing_v1
    from google.oauth2.credentials import Credentials

    from costmodels.providers.gcp import fetch_gcp_catalog

    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    host = f"http://127.0.0.1:{echo_server.server_port}"
    if how == "token":
        client = billing_v1.CloudCatalogClient(
            credentials=Credentials(token=GOOGLE_TOKEN), transport="rest",
            client_options={"api_endpoint": host})
    else:
        client = billing_v1.CloudCatalogClient(
            transport="rest", client_options={"api_endpoint": host, "api_key": GOOGLE_API_KEY})
    with pytest.raises(CatalogError) as caught:
        fetch_gcp_catalog(["a3-highgpu-8g"], region="us-central1", client=client)
    message = str(caught.value)
    assert "GCP denied Cloud Billing Catalog list_skus" in message
    assert "denied, your request was" in message and REDACTED in message
    assert _leaks(message) == []


@pytest.mark.parametrize("text", [
    (f"Authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20261205/us-east-1/pricing/"
    "aws4_request, SignedHeaders=host;x-amz-date, Signature=9f0c1e2d3c4b5a69788796a5b4c3d2e1"),
    f"{{'X-Amz-Security-Token': '{SESSION_TOKEN}', 'User-Agent': 'Boto3/1.35'}}",
    f'{{"SessionToken": "{SESSION_TOKEN}", "SecretAccessKey": "{SECRET_KEY}"}}',
    f"aws_secret_access_key = {SECRET_KEY}",
    f"https://bucket.s3.amazonaws.com/k?X-Amz-Credential={ACCESS_KEY_ID}%2F20261205&"
    "X-Amz-Signature=0a1b2c3d&X-Amz-Security-Token=" + SESSION_TOKEN.replace("/", "%2F"),
    f"authorization: Bearer {GOOGLE_TOKEN}",
    f"https://cloudbilling.googleapis.com/v1/services?key={GOOGLE_API_KEY}",
    f"the key {ACCESS_KEY_ID} is not valid",
])
def test_redact_removes_every_credential_form(text):
    clean = redact(text)
    assert _leaks(clean) == [], clean
    assert REDACTED in clean


def test_redact_removes_known_values_and_keeps_ordinary_text():
    odd_secret = "s3cr3t-value-with-no-known-shape"
    text = f"login failed for {odd_secret}: User arn:aws:iam::123456789012:user/bob is not " \
           "authorized to perform pricing:GetProducts (AccessDeniedException)"
    assert redact(text, [odd_secret, None, "short"]) == text.replace(odd_secret, REDACTED)
    assert redact("p5.48xlarge costs $55.04/h in us-east-1") == \
        "p5.48xlarge costs $55.04/h in us-east-1"
