"""The production topology: nginx in front of two `lantern serve` processes and a
`lantern worker`, all real processes on loopback, no sticky sessions."""

from __future__ import annotations

import os
import re
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lantern.embedded import REPO_ROOT
from lantern.principal import Principal
from lantern.settings import Settings
from portal.analyst import batch as B
from tests.analyst.conftest import Loader, crime, tag
from tests.portal_fixtures import PASSWORD, csrf_from, login

LANTERN = str(Path(sys.executable).parent / "lantern")
NGINX = "/usr/sbin/nginx"
SEARCH_LIMIT = 6


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not come up")


class Topology:
    def __init__(self, asettings: Settings, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
        self.env.update(
            {
                "LANTERN_ENV": "test",
                "LANTERN_INDEX_PREFIX": asettings.index_prefix,
                # nginx is the only proxy: X-Forwarded-For is believed from it alone.
                "LANTERN_FORWARDED_ALLOW_IPS": "127.0.0.1",
                "LANTERN_AUDIT_HEAD_FILE": str(tmp / "audit-head.log"),
                "LANTERN_JOB_LEASE_SECONDS": "3",
                "LANTERN_WORKER_POLL_SECONDS": "0.3",
                "LANTERN_RATE_LIMIT_SEARCH": f"{SEARCH_LIMIT}/minute",
                "LANTERN_RATE_LIMIT_STORAGE": "opensearch",
            }
        )
        if asettings.opensearch_hosts:
            self.env["LANTERN_OPENSEARCH_HOSTS"] = ",".join(str(h) for h in asettings.opensearch_hosts)
            if asettings.opensearch_ca_file is not None:
                self.env["LANTERN_OPENSEARCH_CA_FILE"] = str(asettings.opensearch_ca_file)
            for role in ("portal", "indexer", "admin"):
                secret = getattr(asettings, f"opensearch_{role}_password")
                if secret is not None:
                    self.env[f"LANTERN_OPENSEARCH_{role.upper()}_PASSWORD"] = secret.get_secret_value()
        else:
            # The test's embedded node: its TLS CA and generated passwords are under its home.
            self.env["LANTERN_EMBEDDED_PORT"] = str(asettings.embedded_port)
            self.env["LANTERN_EMBEDDED_TRANSPORT_PORT"] = str(asettings.embedded_transport_port)
            self.env["LANTERN_EMBEDDED_HOME"] = str(asettings.embedded_home.resolve())
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports = [_port(), _port()]
        self.listen = _port()

    def start(self, name: str, *args: str) -> None:
        log = (self.tmp / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [LANTERN, *args], env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def up(self) -> None:
        for i, port in enumerate(self.ports):
            self.start(f"portal{i}", "serve", "--port", str(port))
        for port in self.ports:
            _wait(f"http://127.0.0.1:{port}/healthz")
        template = (REPO_ROOT / "deploy" / "nginx-lantern.conf.template").read_text()
        conf = string.Template(template).safe_substitute(
            PREFIX=str(self.tmp),
            LISTEN=str(self.listen),
            UPSTREAMS="\n".join(
                f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in self.ports
            ),
        )
        (self.tmp / "nginx.conf").write_text(conf)
        self.procs["nginx"] = subprocess.Popen(
            [NGINX, "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf"), "-g", "daemon off;"],
            stdout=(self.tmp / "nginx.out").open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait(f"http://127.0.0.1:{self.listen}/healthz")

    def down(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def topology(asettings: Settings, analyst_users: dict[str, Principal], tmp_path: Path) -> Iterator[Topology]:
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not installed: run `make system-deps`")
    topo = Topology(asettings, tmp_path)
    try:
        topo.up()
        yield topo
    finally:
        topo.down()


def _progress(text: str) -> tuple[int, bool]:
    if "lines searched" in text:
        return -1, True
    match = re.search(r'<progress max="\d+" value="(\d+)"', text)
    assert match, text[:2000]
    return int(match.group(1)), False


def test_job_survives_a_portal_and_a_worker_dying(topology: Topology, loader: Loader) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    via_proxy = httpx.Client(base_url=f"http://127.0.0.1:{topology.listen}", timeout=30)
    login(via_proxy, "anl", PASSWORD)  # type: ignore[arg-type]
    one = httpx.Client(
        base_url=f"http://127.0.0.1:{topology.ports[0]}", cookies=via_proxy.cookies, timeout=30
    )
    two = httpx.Client(
        base_url=f"http://127.0.0.1:{topology.ports[1]}", cookies=via_proxy.cookies, timeout=30
    )

    # Started through portal 1 (no worker yet: the job waits in the queue).
    form = one.get("/batch")
    lines = [t] + [f"nomatch{i}" for i in range(B.MAX_LINES - 1)]
    res = one.post("/batch", data={"csrf_token": csrf_from(form.text), "text": "\n".join(lines)})
    assert res.status_code == 303, res.text[:500]
    job_url = res.headers["location"]
    # Polled through portal 2: it knows the job.
    done, finished = _progress(two.get(job_url).text)
    assert done == 0 and not finished

    topology.kill("portal0")  # the process that started it dies
    topology.start("worker0", "worker")
    # Kill the first worker once it has made progress; a second one takes the job over.
    killed = False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        page = via_proxy.get(job_url)  # nginx skips the dead process
        assert page.status_code == 200, page.status_code
        done, finished = _progress(page.text)
        if finished:
            break
        if done > 0 and not killed:
            topology.kill("worker0")
            topology.start("worker1", "worker")
            killed = True
        time.sleep(0.2)
    assert finished, "the job did not finish"
    page = via_proxy.get(job_url)
    assert f"{len(lines):,} lines searched" in page.text
    assert f"Theft of motor vehicle {t}" in page.text
    print(f"worker killed mid-job: {killed}")

    # The portal that died comes back; the per-user search limit (6/minute here) is one
    # count across both processes, whichever serves each request.
    topology.start("portal0-again", "serve", "--port", str(topology.ports[0]))
    _wait(f"http://127.0.0.1:{topology.ports[0]}/healthz")
    codes = [(one, two)[i % 2].get("/search", params={"q": f"{t}{i}"}).status_code for i in range(8)]
    assert codes == [200] * SEARCH_LIMIT + [429] * (8 - SEARCH_LIMIT), codes
