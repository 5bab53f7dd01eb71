"""Open the report and the cohort page in real headless Chromium (DevTools protocol, standard library
only): no console errors, no network requests, key sections in the DOM, the inline JavaScript works,
the print stylesheet gives A4 pages, and a screenshot is written for a human to look at.

Skipped when Chromium is absent, unless ``CI`` is set (then it fails).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from test_report_fixtures import (
    biomarkers,
    filtered_frame,
    normalize_stats,
    nsclc_matches,
    nsclc_variants,
    sheet_row,
)

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found; CI must have it")
        pytest.skip("chromium not found (install Debian's chromium to run the browser tests)")
    return path


@pytest.fixture
def chromium_env():
    """Environment for Chromium with a short private TMPDIR (it keeps its socket and scratch
    ``org.chromium.Chromium.*`` directories there; UNIX socket paths must stay short), removed afterwards."""
    scratch = tempfile.mkdtemp(prefix="ccevc-")
    try:
        yield {**os.environ, "TMPDIR": scratch}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class CDP:
    """A minimal Chrome DevTools Protocol client over a hand-written RFC 6455 websocket."""

    def __init__(self, ws_url: str, timeout: float = 30.0):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", ws_url)
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )  # fmt: skip
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        head, self._buffer = response.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self._id = 0
        self.events: list[dict] = []

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools websocket closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _recv_message(self) -> dict:
        payload = b""
        while True:
            b1, b2 = self._read(2)
            opcode, length = b1 & 0x0F, b2 & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            data = self._read(length)
            if opcode == 0x8:
                raise ConnectionError("DevTools websocket closed by the browser")
            if opcode in (0x9, 0xA):  # ping/pong: ignore
                continue
            payload += data
            if b1 & 0x80:
                return json.loads(payload)

    def send(self, method: str, **params) -> dict:
        self._id += 1
        data = json.dumps({"id": self._id, "method": method, "params": params}).encode()
        header = bytes([0x81])
        n = len(data)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        while True:
            message = self._recv_message()
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            message = self._recv_message()
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    def close(self):
        self.sock.close()


@pytest.fixture
def browser(tmp_path, chromium_env):
    """Start headless Chromium with a DevTools port; yield a function that opens a file in a page."""
    exe = _chromium()
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,1600",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=chromium_env,
    )  # fmt: skip
    clients: list[CDP] = []
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError("chromium exited before opening the DevTools port")
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        assert port is not None, "chromium did not report a DevTools port"

        def open_page(path: Path) -> CDP:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = json.load(response)
            page = next(t for t in targets if t["type"] == "page")
            cdp = CDP(page["webSocketDebuggerUrl"])
            clients.append(cdp)
            for domain in ("Runtime", "Log", "Network", "Page"):
                cdp.send(f"{domain}.enable")
            cdp.send("Page.navigate", url=path.as_uri())
            cdp.wait_for("Page.loadEventFired")
            cdp.evaluate("1")  # flush events queued during load
            return cdp

        yield open_page
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def _problems(cdp: CDP, page: Path) -> tuple[list[str], list[str]]:
    """(console/JS errors, URLs requested other than the page itself)."""
    errors, requests = [], []
    for e in cdp.events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"])[:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            errors.append(str(params.get("args"))[:300])
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            errors.append(params["entry"].get("text", "")[:300])
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page.as_uri():
                requests.append(url)
    return errors, requests


def _a4_pages(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


def test_report_in_chromium(tmp_path, browser):
    from ccevariants.report import write_report

    paths = write_report(
        "P001", sheet_row(), nsclc_matches(), nsclc_variants(), biomarkers(), normalize_stats(), filtered_frame(),
        tmp_path / "report", provenance={"genome_build": "GRCh38", "synthetic": True}, fixed_date="2026-11-28",
    )  # fmt: skip
    page = paths["html"]
    cdp = browser(page)
    errors, requests = _problems(cdp, page)
    assert errors == []
    assert requests == []
    assert cdp.evaluate("document.querySelectorAll('#key-findings-table tbody tr').length") == 5
    first = cdp.evaluate("document.querySelector('#key-findings-table tbody tr td:nth-child(2)').textContent")
    assert first.startswith("EGFR E746_A750del")
    # the hostile sample name is text, not an element, and did not run
    assert cdp.evaluate("document.querySelectorAll('script').length") == 1
    assert "<script>alert(1)</script>" in cdp.evaluate("document.querySelector('#front-page').textContent")
    # sorting: click the VAF header of the variants table twice (ascending, then descending)
    vaf_order = """(() => { const t = document.getElementById('variants-table');
        return Array.from(t.tBodies[0].rows).map(r => r.cells[6].textContent.trim()); })()"""
    assert cdp.evaluate(vaf_order) == ["20.0%", "7.9%", "31.1%", "11.1%"]  # genomic order
    cdp.evaluate("document.querySelector('#variants-table thead th:nth-child(7)').click()")
    assert cdp.evaluate(vaf_order) == ["7.9%", "11.1%", "20.0%", "31.1%"]
    cdp.evaluate("document.querySelector('#variants-table thead th:nth-child(7)').click()")
    assert cdp.evaluate(vaf_order) == ["31.1%", "20.0%", "11.1%", "7.9%"]
    # filtering
    visible = """(() => { const i = document.querySelector('input[data-table="findings-table"]'); i.value = 'erbb2';
        i.dispatchEvent(new Event('input'));
        return Array.from(document.querySelectorAll('#findings-table tbody tr')).filter(r => r.style.display !== 'none').length; })()"""
    assert cdp.evaluate(visible) == 1
    shot = cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = tmp_path / "report.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    pdf = base64.b64decode(cdp.send("Page.printToPDF", preferCSSPageSize=True)["data"])
    pages = _a4_pages(pdf)
    assert pages and all(abs(w - 595.3) < 2 and abs(h - 841.9) < 2 for w, h in pages), pages[:3]
    errors, requests = _problems(cdp, page)
    assert errors == [] and requests == []


def test_report_screenshot_flag(tmp_path, chromium_env):
    """The plain ``--screenshot`` route (what a user would run) writes a PNG of the page."""
    from ccevariants.report import write_report

    exe = _chromium()
    paths = write_report(
        "P001", sheet_row(), nsclc_matches(), nsclc_variants(), biomarkers(), None, None, tmp_path / "r",
        provenance={"synthetic": True}, fixed_date="2026-11-28",
    )  # fmt: skip
    png = tmp_path / "shot.png"
    subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
         "--window-size=1200,1800", paths["html"].as_uri()],
        capture_output=True, timeout=120, check=False, env=chromium_env,
    )  # fmt: skip
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cohort_in_chromium(tmp_path, browser):
    from ccevariants.cohort import build_cohort
    from ccevariants.report import write_report

    reports = []
    for pid, center in (("P001", "Centre-A"), ("P002", "Centre-B")):
        reports.append(
            write_report(
                pid,
                sheet_row(pid, f"S-{pid}", center=center),
                nsclc_matches(pid),
                nsclc_variants(),
                biomarkers(),
                None,
                None,
                tmp_path / "reports",
                provenance={"synthetic": True},
                fixed_date="2026-11-28",
            )["json"]  # fmt: skip
        )
    out = build_cohort(reports, tmp_path / "cohort")
    page = out["index.html"]
    cdp = browser(page)
    errors, requests = _problems(cdp, page)
    assert errors == [] and requests == []
    assert (
        cdp.evaluate("document.querySelectorAll('#oncoprint svg rect[data-kind]').length") == 4
    )  # 2 genes x 2
    assert cdp.evaluate("document.querySelectorAll('#patients-table tbody tr').length") == 2
    shot = cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    (tmp_path / "cohort.png").write_bytes(base64.b64decode(shot["data"]))
