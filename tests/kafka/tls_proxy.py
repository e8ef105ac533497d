"""A TLS terminator (what stunnel does) in front of a plaintext broker, for tests.

The embedded tansu cannot serve TLS itself (its `--cert` and `--key` flags conflict), so a
test that needs a real broker behind TLS puts this in front of it: clients complete a real
TLS handshake against a certificate signed by a test CA, then bytes pass through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(folder: Path) -> Certificates:
    """A CA (CN=retention-test-ca) and a server certificate it signs for 127.0.0.1."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "ca.key"),
            "-out", str(folder / "ca.pem"), "-days", "2", "-subj", "/CN=retention-test-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "server.key"),
            "-out", str(folder / "server.csr"), "-subj", "/CN=127.0.0.1")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(folder / "ca.pem"),
            "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "2",
            "-out", str(folder / "server.pem"), "-extfile", str(folder / "ext.cnf"))
    return Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


@contextlib.contextmanager
def tls_terminator(certificates: Certificates, listen_port: int,
                   upstream_port: int) -> Iterator[None]:
    """Accept TLS on 127.0.0.1:listen_port and forward to 127.0.0.1:upstream_port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates.cert, certificates.key)
    loop = asyncio.new_event_loop()

    async def forward(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, broker_w), _pipe(broker_r, client_w))

    server = loop.run_until_complete(
        asyncio.start_server(forward, "127.0.0.1", listen_port, ssl=context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
