"""Build, start, stop and inspect the embedded OpenSearch node(s).

The Java side (``launcher/``) is a tiny main class over OpenSearch 2.19 jars from Maven
Central. This module builds it once with Maven, writes each node's ``opensearch.yml``
and runs plain ``java -cp`` in its own session so the node outlives the CLI call and
receives SIGTERM directly (``mvn exec:java`` would swallow it).

With ``nodes > 1`` each node is a separate JVM with its own ports and data directory and
they form a real cluster through transport-level discovery on loopback.

Every node runs the OpenSearch security plugin: TLS on HTTP and transport, HTTP Basic
authentication, Lantern's own users and least-privilege roles (``lantern.opensearch_security``).
Certificates and passwords are generated at first start under ``<embedded home>/security``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from lantern import opensearch_security as sec
from lantern.errors import LauncherError
from lantern.processes import maven_build, pid_alive
from lantern.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER_DIR = REPO_ROOT / "launcher"
MAIN_CLASS = "lantern.launcher.LanternNode"
CLUSTER_NAME = "lantern"


@dataclass(frozen=True)
class NodeSpec:
    index: int
    name: str
    home: Path
    http_port: int
    transport_port: int

    @property
    def pid_file(self) -> Path:
        return self.home / "node.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "node.log"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.http_port}"


@dataclass
class NodeStatus:
    spec: NodeSpec
    pid: int | None
    alive: bool
    version: str | None
    distribution: str | None


def node_specs(settings: Settings, nodes: int) -> list[NodeSpec]:
    base = settings.embedded_home.resolve()
    if nodes == 1:
        return [
            NodeSpec(
                0,
                "lantern-node",
                base / "node-0",
                settings.embedded_port,
                settings.embedded_transport_port,
            )
        ]
    return [
        NodeSpec(
            i,
            f"lantern-node-{i}",
            base / f"node-{i}",
            settings.embedded_port + i,
            settings.embedded_transport_port + i,
        )
        for i in range(nodes)
    ]


# ---------------------------------------------------------------------------- build


def _classpath_file() -> Path:
    return LAUNCHER_DIR / "target" / "classpath.txt"


def plugin_zip() -> Path:
    """The security plugin zip, copied from Maven Central by ``build_launcher``."""
    return LAUNCHER_DIR / "target" / "plugins" / "opensearch-security.zip"


def build_launcher(force: bool = False) -> None:
    """Compile the launcher, resolve its classpath and fetch the security plugin zip from
    Maven Central (cached in ~/.m2)."""
    built = LAUNCHER_DIR / "target" / "classes" / "lantern" / "launcher" / "LanternNode.class"
    problem = maven_build(
        LAUNCHER_DIR / "pom.xml",
        built,
        _classpath_file(),
        force=force,
        extra_goals=["dependency:copy@security-plugin"],
        extra_outputs=[plugin_zip()],
    )
    if problem is not None:
        raise LauncherError("building the OpenSearch launcher failed:\n" + problem)


def core_version() -> str:
    """The OpenSearch core version on the launcher's classpath (``2.19.4``)."""
    for entry in _classpath_file().read_text().strip().split(os.pathsep):
        m = re.search(r"/org/opensearch/opensearch/([^/]+)/opensearch-\1\.jar$", Path(entry).as_posix())
        if m:
            return m.group(1)
    raise LauncherError(f"no OpenSearch core jar in {_classpath_file()}; rebuild with `make launcher`")


def data_dir(spec: NodeSpec) -> Path:
    """A node's data directory, named after the core version that writes it.

    OpenSearch refuses data written by a newer core (and the security plugin pins the core,
    so a checkout may run an older one than the data it finds: 2.19.6 before the plugin,
    2.19.4 with it). A directory per version means a node never opens another version's
    data; the other directory is left as it was, for the operator to move or delete.
    """
    return spec.home / f"data-{core_version()}"


def _layout_stamp() -> str:
    # What a running node of this checkout must be; see ``start``.
    return f"opensearch {core_version()} secured"


def java_classpath() -> str:
    deps = _classpath_file().read_text().strip()
    return f"{LAUNCHER_DIR / 'target' / 'classes'}{os.pathsep}{deps}"


# --------------------------------------------------------------------------- config


def _node_config(
    spec: NodeSpec,
    specs: Sequence[NodeSpec],
    snapshot_location: Path | None = None,
    security: dict[str, str] | None = None,
) -> str:
    lines = {
        "cluster.name": CLUSTER_NAME,
        "node.name": spec.name,
        "path.data": str(data_dir(spec)),
        "path.logs": str(spec.home / "logs"),
        "network.host": "127.0.0.1",
        "http.port": str(spec.http_port),
        "transport.port": str(spec.transport_port),
        "node.portsfile": "true",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        # A write to a missing alias must fail, not silently create a dynamic index.
        "action.auto_create_index": "false",
    }
    if snapshot_location is not None:
        # Where `lantern backup` may write filesystem snapshots (shared by all local nodes).
        lines["path.repo"] = f'["{snapshot_location}"]'
    if len(specs) == 1:
        lines["discovery.type"] = "single-node"
    else:
        seeds = ",".join(f'"127.0.0.1:{s.transport_port}"' for s in specs)
        masters = ",".join(f'"{s.name}"' for s in specs)
        lines["discovery.seed_hosts"] = f"[{seeds}]"
        lines["cluster.initial_cluster_manager_nodes"] = f"[{masters}]"
    lines.update(security or {})
    return "".join(f"{k}: {v}\n" for k, v in lines.items())


# ------------------------------------------------------------------------ processes


def _read_pid(spec: NodeSpec) -> int | None:
    try:
        return int(spec.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _ssl_context(settings: Settings, client_cert: bool = False) -> ssl.SSLContext:
    paths = sec.security_paths(settings.embedded_home)
    ctx = ssl.create_default_context(cafile=str(paths.ca_cert))
    if client_cert:
        ctx.load_cert_chain(str(paths.admin_cert), str(paths.admin_key))
    return ctx


def _request(
    settings: Settings,
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    timeout: float = 2.0,
    admin_cert: bool = False,
) -> Any:
    """JSON from the node as Lantern's admin user (or with the admin certificate); None if the
    node does not answer or refuses (not started, security index not yet initialised)."""
    headers = {"Content-Type": "application/json"}
    if not admin_cert:
        creds = sec.read_credentials(sec.security_paths(settings.embedded_home)) or {}
        token = base64.b64encode(f"{sec.USERNAMES['admin']}:{creds.get('admin', '')}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (loopback)
    try:
        ctx = _ssl_context(settings, client_cert=admin_cert)
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:  # noqa: S310
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        # A cluster health wait that ran out answers 408 with the health itself
        # ("timed_out": true): keep it, so a failed wait says which state it got stuck in.
        if exc.code == 408:
            try:
                return json.loads(exc.read())
            except (OSError, ValueError):
                return None
        if not admin_cert:
            return None
        try:  # the security API's refusal says why
            return {"http_status": exc.code, "error": exc.read().decode(errors="replace")[:2000]}
        except OSError:
            return None
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError):
        return None


def _http_json(settings: Settings, url: str, timeout: float = 2.0) -> Any:
    return _request(settings, url, timeout=timeout)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(spec: NodeSpec, lines: int = 40) -> str:
    try:
        return "\n".join(spec.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _snapshot_dir(settings: Settings) -> Path:
    path = settings.snapshot_location.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_security(settings: Settings) -> sec.SecurityPaths:
    """Certificates and component passwords of this layout, created at first start."""
    paths = sec.security_paths(settings.embedded_home)
    sec.ensure_certificates(paths)
    sec.ensure_credentials(paths)
    return paths


def _launch(spec: NodeSpec, specs: Sequence[NodeSpec], settings: Settings) -> int:
    config = spec.home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (spec.home / "logs").mkdir(parents=True, exist_ok=True)
    data_dir(spec).mkdir(parents=True, exist_ok=True)
    paths = prepare_security(settings)
    creds = sec.read_credentials(paths) or {}
    sec.install_plugin(plugin_zip(), spec.home, java_classpath().split(os.pathsep))
    sec.write_security_config(config, settings.index_prefix, creds)
    # Node 0 seeds the security index (the cluster's first node; a single node is node 0).
    security = sec.node_security_settings(config, paths, seed=spec.index == 0)
    (config / "opensearch.yml").write_text(_node_config(spec, specs, _snapshot_dir(settings), security))
    os.chmod(config / "opensearch.yml", 0o600)
    heap = settings.embedded_heap
    cmd = [
        settings.embedded_java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-Djava.locale.providers=SPI,COMPAT",
        "-Dlog4j.shutdownHookEnabled=false",
        "-Dlog4j2.disable.jmx=true",
        f"-Djava.io.tmpdir={spec.home / 'tmp'}",
        "-cp",
        java_classpath(),
        MAIN_CLASS,
        str(spec.home),
    ]
    (spec.home / "tmp").mkdir(exist_ok=True)
    with open(spec.log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    spec.pid_file.write_text(str(proc.pid))
    _layout_file(spec).write_text(_layout_stamp())
    return proc.pid


def _layout_file(spec: NodeSpec) -> Path:
    return spec.home / "node.layout"


def _state_file(settings: Settings) -> Path:
    return settings.embedded_home.resolve() / "cluster.json"


def current_nodes(settings: Settings) -> int:
    try:
        return int(json.loads(_state_file(settings).read_text())["nodes"])
    except (OSError, ValueError, KeyError):
        return 1


def start(settings: Settings, nodes: int = 1, wait: bool = True) -> list[NodeStatus]:
    """Start the embedded node(s); harmless when they already run."""
    if not settings.embedded:
        raise LauncherError(
            "LANTERN_OPENSEARCH_HOSTS points at an external cluster; nothing embedded is started"
        )
    running = [s for s in status(settings) if s.alive]
    if running and current_nodes(settings) != nodes:
        raise LauncherError(
            f"{len(running)} embedded node(s) already run with a different layout; "
            "run `lantern opensearch stop` first"
        )
    build_launcher()
    specs = node_specs(settings, nodes)
    settings.embedded_home.resolve().mkdir(parents=True, exist_ok=True)
    _state_file(settings).write_text(json.dumps({"nodes": nodes}))
    for spec in specs:
        if pid_alive(_read_pid(spec)):
            _check_running_layout(spec)
            continue
        if _port_taken(spec.http_port):
            raise LauncherError(f"port {spec.http_port} is taken by another process")
        _launch(spec, specs, settings)
    if wait:
        wait_until_healthy(specs, settings.embedded_start_timeout, expected_nodes=nodes, settings=settings)
        sync_security(settings)
    return status(settings)


def _check_running_layout(spec: NodeSpec) -> None:
    """A node already running from this home must be one this code started: one started by
    an older checkout (plain HTTP, another core) would never answer the TLS health check."""
    try:
        stamp = _layout_file(spec).read_text().strip()
    except OSError:
        stamp = "an older Lantern (plain HTTP)"
    if stamp != _layout_stamp():
        raise LauncherError(
            f"the node running from {spec.home} (pid {_read_pid(spec)}) was started as {stamp!r}, "
            f"not {_layout_stamp()!r}; stop it first (`lantern opensearch stop` with this home)"
        )


def start_node(settings: Settings, index: int) -> None:
    """(Re)start one node of the current layout, e.g. after a fault test killed it."""
    specs = node_specs(settings, current_nodes(settings))
    spec = specs[index]
    if not pid_alive(_read_pid(spec)):
        _launch(spec, specs, settings)


def wait_until_healthy(
    specs: Sequence[NodeSpec],
    timeout: float,
    expected_nodes: int | None = None,
    *,
    settings: Settings,
) -> None:
    """Wait for yellow cluster health, a green security index *and* every node answering an
    authenticated request: until a node has loaded the security configuration it refuses
    every request (503), and the other nodes load it a few seconds after the seeding node
    (``node_security_settings``), so neither yellow nor node 0 alone is "ready"."""
    deadline = time.monotonic() + timeout
    wanted = "wait_for_status=yellow&timeout=5s"
    if expected_nodes:
        wanted += f"&wait_for_nodes={expected_nodes}"
    security_index = f"{specs[0].url}/_cluster/health/.opendistro_security?wait_for_status=green&timeout=5s"
    while True:
        for spec in specs:
            if not pid_alive(_read_pid(spec)):
                raise LauncherError(
                    f"OpenSearch node {spec.name} exited during start-up. Log tail:\n" + _log_tail(spec)
                )
        health = _http_json(settings, f"{specs[0].url}/_cluster/health?{wanted}", timeout=7)
        if health and not health.get("timed_out") and health.get("status") in {"yellow", "green"}:
            secured = _http_json(settings, security_index, timeout=7)
            if (
                secured
                and not secured.get("timed_out")
                and secured.get("status") == "green"
                and all(isinstance(_http_json(settings, spec.url + "/", timeout=7), dict) for spec in specs)
            ):
                return
        if time.monotonic() > deadline:
            raise LauncherError(
                f"OpenSearch did not become healthy within {timeout:.0f}s. Log tail:\n" + _log_tail(specs[0])
            )
        time.sleep(1)


def stop(settings: Settings, grace: float = 30.0) -> int:
    """SIGTERM every embedded node, wait, then SIGKILL what is left. Returns nodes stopped."""
    specs = node_specs(settings, max(current_nodes(settings), 1))
    pids = [(spec, _read_pid(spec)) for spec in specs]
    live = [(spec, pid) for spec, pid in pids if pid_alive(pid)]
    for _, pid in live:
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(pid) for _, pid in live):
        time.sleep(0.3)
    for _, pid in live:
        if pid_alive(pid):
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
    for spec, _ in pids:
        spec.pid_file.unlink(missing_ok=True)
    return len(live)


def kill_node(settings: Settings, index: int, sig: int = signal.SIGKILL) -> int | None:
    """Send a signal to one node (fault tests)."""
    spec = node_specs(settings, current_nodes(settings))[index]
    pid = _read_pid(spec)
    if pid_alive(pid):
        assert pid is not None
        os.kill(pid, sig)
        return pid
    return None


def status(settings: Settings) -> list[NodeStatus]:
    out = []
    for spec in node_specs(settings, max(current_nodes(settings), 1)):
        pid = _read_pid(spec)
        alive = pid_alive(pid)
        info = _http_json(settings, spec.url + "/") if alive else None
        version = info.get("version", {}) if info else {}
        out.append(
            NodeStatus(
                spec=spec,
                pid=pid if alive else None,
                alive=alive,
                version=version.get("number"),
                distribution=version.get("distribution"),
            )
        )
    return out


def cluster_health(settings: Settings, params: str = "") -> dict[str, Any] | None:
    """Cluster health from the first node that answers (``params``: e.g. ``wait_for_status=green``)."""
    specs = node_specs(settings, max(current_nodes(settings), 1))
    query = f"?{params}" if params else ""
    for spec in specs:
        health = _http_json(settings, spec.url + "/_cluster/health" + query, timeout=15 if params else 2)
        if isinstance(health, dict) and health:
            return health
    return None


def node_urls(settings: Settings) -> list[str]:
    """HTTP URL of every node of the current embedded layout (clients spread over all of them)."""
    return [spec.url for spec in node_specs(settings, max(current_nodes(settings), 1))]


def stop_node(settings: Settings, index: int, grace: float = 30.0) -> bool:
    """Stop one node gracefully (SIGTERM, SIGKILL after ``grace``); the others keep running."""
    spec = node_specs(settings, current_nodes(settings))[index]
    pid = _read_pid(spec)
    if not pid_alive(pid):
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.3)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    spec.pid_file.unlink(missing_ok=True)
    return True


def wait_for_status(
    settings: Settings, wanted: str = "green", timeout: float = 180.0, nodes: int | None = None
) -> dict[str, Any]:
    """Block until the cluster reports ``wanted`` (and ``nodes`` nodes); LauncherError on timeout."""
    deadline = time.monotonic() + timeout
    params = f"wait_for_status={wanted}&timeout=5s"
    if nodes:
        params += f"&wait_for_nodes={nodes}"
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        health = cluster_health(settings, params)
        if health and not health.get("timed_out"):
            return health
        last = health or last
        time.sleep(1)
    raise LauncherError(f"cluster did not reach {wanted} within {timeout:.0f}s; last health: {last}")


def cluster_members(settings: Settings) -> dict[str, dict[str, Any]]:
    """Node name -> ``_cat/nodes`` row as seen by the cluster (who joined, who is manager)."""
    for spec in node_specs(settings, max(current_nodes(settings), 1)):
        rows = _http_json(
            settings,
            spec.url + "/_cat/nodes?format=json&h=name,ip,port,node.role,cluster_manager,heap.percent",
        )
        if isinstance(rows, list):
            return {str(r.get("name")): r for r in rows}
    return {}


def _covers(actual: Any, wanted: Any) -> bool:
    """Whether what the security API returns has everything Lantern wants: the API adds its
    own defaults (``reserved``, ``hidden``, empty ``fls`` ...), so a dict may carry more keys;
    lists must match element by element."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_covers(actual.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(_covers(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    return bool(actual == wanted)


def _password_works(settings: Settings, url: str, role: sec.Role, password: str) -> bool:
    token = base64.b64encode(f"{sec.USERNAMES[role]}:{password}".encode()).decode()
    req = urllib.request.Request(  # noqa: S310 (loopback)
        f"{url}/_plugins/_security/authinfo", headers={"Authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30, context=_ssl_context(settings)) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def sync_security(settings: Settings, *, force: bool = False) -> list[str]:
    """Bring users, roles and mappings in the security index in line with this code; returns
    what it had to change (nothing, normally).

    The yml files seed the index when it is first created (and at every full-cluster start:
    the cluster manager uploads them once, see ``node_security_settings``); afterwards the
    security REST API (admin certificate only) is the way to change them, e.g. after an
    upgrade that changes a role, or when ``credentials.json`` was regenerated. Only what
    differs is written: every write makes each node reload its security configuration and
    forget its authentication cache, which under load cost tens of seconds per start.
    ``force`` writes everything.
    """
    paths = sec.security_paths(settings.embedded_home)
    creds = sec.read_credentials(paths) or {}
    node = node_specs(settings, max(current_nodes(settings), 1))[0].url
    url = node + "/_plugins/_security/api"

    def current(kind: str) -> dict[str, Any]:
        if force:
            return {}
        answer = _request(settings, f"{url}/{kind}", timeout=30, admin_cert=True)
        return answer if isinstance(answer, dict) and "http_status" not in answer else {}

    puts: list[tuple[str, dict[str, Any]]] = []
    wanted_config = sec.auth_config()["config"]
    if not _covers(current("securityconfig").get("config"), wanted_config):
        puts.append(("securityconfig/config", wanted_config))
    for kind, wanted in (
        ("roles", sec.roles_config(settings.index_prefix)),
        ("rolesmapping", sec.roles_mapping_config()),
    ):
        have = current(kind)
        puts += [(f"{kind}/{n}", body) for n, body in wanted.items() if not _covers(have.get(n), body)]
    users = current("internalusers")
    for role, password in creds.items():
        name = sec.USERNAMES[role]
        if force or name not in users or not _password_works(settings, node, role, password):
            puts.append((f"internalusers/{name}", {"password": password}))
    for path, body in puts:
        # Two processes starting together (test workers, portals) sync at once; the plugin
        # answers 409 to the one that lost the race on a config document. The PUTs are
        # idempotent, so the loser simply puts again.
        for attempt in range(10):
            answer = _request(settings, f"{url}/{path}", method="PUT", body=body, timeout=30, admin_cert=True)
            if answer is None or answer.get("http_status") != 409:
                break
            time.sleep(0.2 * (attempt + 1))
        if answer is None or answer.get("status") not in {"OK", "CREATED"}:
            raise LauncherError(f"could not update the security configuration ({path}): {answer}")
    return [path for path, _ in puts]


def external_settings(settings: Settings, hosts: Sequence[str]) -> Settings:
    """``settings`` pointed at explicit ``hosts`` (a proxy, a host list) with this embedded
    layout's credentials and CA set explicitly: what an external cluster's settings look like."""
    paths = sec.security_paths(settings.embedded_home)
    creds = sec.read_credentials(paths) or {}
    update: dict[str, Any] = {"opensearch_hosts": list(hosts), "opensearch_ca_file": paths.ca_cert}
    for role, password in creds.items():
        update[f"opensearch_{role}_password"] = SecretStr(password)
    return settings.model_copy(update=update)
