"""``headwater up`` as a process: HTTPS (HTTP/1.1 and h2) with a certificate made here, the refusal to
bind another address without a key, and logs (text or one JSON object per line) that never hold a
connector password."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.server.server_process import ROOT, ServerProcess

PASSWORD = "Pw-never-logged-7731"
URL_PASSWORD = "UrlPw-never-logged-9876"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_serves_http1_and_h2(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = ServerProcess(tmp_path / "log", "--tls-cert", str(cert), "--tls-key", str(key),
                           ca_file=str(cert)).start()
    try:
        with httpx.Client(verify=str(cert)) as http1:
            info = http1.get(f"{server.url}/info")
            assert info.status_code == 200 and info.http_version == "HTTP/1.1"
            assert info.json()["KsqlServerInfo"]["serverStatus"] == "RUNNING"
        with httpx.Client(verify=str(cert), http2=True) as h2:
            shown = h2.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"})
            assert shown.status_code == 200 and shown.http_version == "HTTP/2", shown.text
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{server.port}/info", timeout=3)
    finally:
        server.stop()


def test_another_address_needs_an_admin_key_or_insecure(tmp_path: Path) -> None:
    refused = subprocess.run([sys.executable, "-m", "headwater.cli", "up", "--log", str(tmp_path / "log"),
                              "--host", "0.0.0.0", "--port", "1"], capture_output=True, text=True, timeout=60,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert refused.returncode != 0
    assert "refusing to bind 0.0.0.0" in refused.stderr and "--insecure" in refused.stderr
    assert not (tmp_path / "log").exists()  # refused before opening anything


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_logs_never_hold_a_jdbc_password(tmp_path: Path, log_format: str) -> None:
    server = ServerProcess(tmp_path / "log", "--log-format", log_format, "--log-level", "debug",
                           "--connect-allow-host", "127.0.0.1:3306").start()
    try:
        created = httpx.post(f"{server.url}/topics", json={"name": "orders"})
        assert created.status_code == 200, created.text
        httpx.post(f"{server.url}/topics/orders/messages", json={"records": [{"value": {"id": 1}}]})
        config = {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "orders",
                  "connection.url": f"jdbc:mysql://nobody:{URL_PASSWORD}@127.0.0.1:3306/test?password={PASSWORD}",
                  "connection.user": "nobody-headwater", "connection.password": PASSWORD,
                  "auto.create": "true", "errors.log.enable": "true"}
        made = httpx.post(f"{server.url}/connectors", json={"name": "leaky", "config": config}, timeout=30)
        assert made.status_code == 201, made.text
        bad = httpx.post(f"{server.url}/connectors", json={"name": "bad", "config": {
            **config, "connection.url": f"jdbc:nosuchdb://u:{URL_PASSWORD}@127.0.0.1/x"}}, timeout=30)
        assert bad.status_code == 400 and URL_PASSWORD not in bad.text
        deadline = time.monotonic() + 30
        status: dict[str, object] = {}
        while time.monotonic() < deadline:
            status = httpx.get(f"{server.url}/connectors/leaky/status").json()
            if any(t["state"] == "FAILED" for t in status["tasks"]):  # type: ignore[union-attr]
                break
            time.sleep(0.2)
        assert any(t["state"] == "FAILED" for t in status["tasks"]), status  # type: ignore[union-attr]
        assert PASSWORD not in json.dumps(status) and URL_PASSWORD not in json.dumps(status)
    finally:
        server.stop()
    output = server.output or ""
    assert "leaky" in output  # the failure was logged ...
    assert PASSWORD not in output and URL_PASSWORD not in output  # ... without the secrets
    lines = [line for line in output.splitlines() if line.strip()]
    if log_format == "json":
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
        assert any(e.get("connector") == "leaky" and e["level"] == "WARNING" for e in entries), entries
    else:
        assert not any(line.startswith("{") for line in lines)
