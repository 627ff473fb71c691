"""Run a local Neo4j Community server without Docker.

The server is Neo4j's in-process test harness (``org.neo4j.test:neo4j-harness``) plus APOC,
fetched from Maven Central by ``mvn dependency:copy-dependencies`` into a cache outside the
project (:func:`medkg.config.cache_dir`), started by the small Java main in
``medkg/neo4j_harness/MedkgNeo4j.java`` as a detached ``java`` process with Bolt on
127.0.0.1. A state file under ``$MEDKG_HOME/neo4j/`` records where it listens so
``medkg neo4j status|stop`` find it again.

Locked down for a shared machine: authentication is always on (a random password is
generated on the first start and kept in ``$MEDKG_HOME/neo4j/<name>.credentials.json``,
mode 0600, which every medkg command reads when it connects to this server), the port is a
free one unless given, LOAD CSV cannot read file URLs and Cypher cannot reach the network,
only pure APOC functions load, the JVM gets a minimal environment (none of the caller's
secrets) and the data folder is private (0700, files 0600). The HTTP server (Neo4j Browser)
is not started.

Typical use::

    info = start()              # fetch + compile once (cached), then start; ~15-30 s
    os.environ["NEO4J_URI"] = info.uri
    ...
    stop()
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medkg.config import cache_dir, neo4j_credentials_path, neo4j_state_dir
from medkg.errors import MedkgError
from medkg.kg import neo4j_cds
from medkg.processes import pid_alive
from medkg.progress import Progress

NEO4J_VERSION = "5.26.18"
"""neo4j-harness and apoc-core version: the newest 5.26 LTS release of both on Maven Central."""

HARNESS_DIR = Path(__file__).resolve().parent.parent / "neo4j_harness"
MAIN_CLASS = "MedkgNeo4j"
JAVA_OPENS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
)
DEFAULT_NAME = "default"
READY_PREFIX = "READY "
# Lines ``NAME <epoch ms> <cpu ms>`` MedkgNeo4j prints around an import: the importer is
# ready, the DBMS is up (beside the importer), the import is done, the database serves.
IMPORT_MARKS = ("WAITING", "DBMS", "IMPORTED", "SERVING")
IMPORT_FAILED = "MEDKG IMPORT FAILED"  # its line when the import fails (then it exits 3)
# A server that starts with an import compiles with C1 only: the import, the DBMS start and
# the index build run much code briefly, where C2's compile threads cost more CPU than their
# code saves (about a third of the JVM's CPU for the load, bench/README.md). Measured cost:
# a whole-graph read over Bolt takes about 1.8x the JVM CPU afterwards (short queries less);
# a restart (`medkg neo4j stop`, `start`) brings the JVM's default compilation back.
IMPORT_JIT = ("-XX:TieredStopAtLevel=1",)


class Neo4jServerError(MedkgError, RuntimeError):
    """The local Neo4j server could not be prepared, started or stopped; says why."""


@dataclass(frozen=True)
class Neo4jRuntime:
    """The compiled runner: dependency jars, the APOC plugin folder and the main class."""

    root: Path
    version: str

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def runner_jar(self) -> Path:
        """The compiled runner, as a jar: class-data sharing refuses a class folder."""
        return self.root / "runner" / "medkg-neo4j.jar"

    def classpath(self) -> str:
        return os.pathsep.join([str(self.lib / "*"), str(self.runner_jar)])


@dataclass(frozen=True)
class ServerInfo:
    """A running server: its Bolt URI, process id and files. Never holds a password."""

    uri: str
    pid: int
    port: int
    name: str
    data_dir: str
    log_path: str
    version: str
    started_at: float
    user: str | None = None  # set when authentication is on
    startup_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerInfo:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def export_lines(self) -> list[str]:
        """Shell lines that point medkg (and the Neo4j tools) at this server. medkg reads the
        password from the credentials file itself; other tools need NEO4J_PASSWORD."""
        lines = [f"export NEO4J_URI={self.uri}"]
        if self.user:
            lines.append(f"export NEO4J_USER={self.user}")
            lines.append(
                f"# NEO4J_PASSWORD: medkg reads it from {neo4j_credentials_path(self.name)} "
                "(mode 0600); other tools need it exported"
            )
        return lines


@dataclass
class ImportFirst:
    """An offline import the server process runs before it starts (see ``MedkgNeo4j.java``).

    ``home`` is the importer's NEO4J_HOME (``home/conf/neo4j.conf`` names the data folder);
    ``prepare()`` runs in this process while the JVM starts (it writes the import files) and
    returns the importer's arguments. :func:`start` fills ``marks`` with the epoch seconds
    and ``cpu`` with the JVM's CPU seconds each of :data:`IMPORT_MARKS` carries, and ``go``
    with when it let the import begin (epoch seconds, as the JVM stamps its marks).
    ``jit`` are the JVM's compiler options for this start (:data:`IMPORT_JIT`)."""

    home: Path
    prepare: Callable[[], list[str]]
    jit: tuple[str, ...] = IMPORT_JIT
    marks: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    go: float = 0.0


# --------------------------------------------------------------------------- runtime
def runtime_dir(version: str = NEO4J_VERSION) -> Path:
    """The compiled runner's folder, keyed by the version and the runner's source, so
    checkouts with different runners sharing one cache never rebuild each other's."""
    return cache_dir() / f"neo4j-{version}-{_source_fingerprint(version)[:12]}"


def _source_fingerprint(version: str) -> str:
    h = hashlib.sha256(version.encode())
    for name in ("pom.xml", f"{MAIN_CLASS}.java"):
        h.update((HARNESS_DIR / name).read_bytes())
    return h.hexdigest()


def _require_tool(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise Neo4jServerError(f"`{tool}` not found on PATH; it is needed to {why} (Java 17+)")
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive file lock, so two processes never build the runtime at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_tool(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise Neo4jServerError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def _write_jar(classes: Path, jar: Path) -> None:
    """Pack the compiled ``classes`` into ``jar`` (fixed entry times: same classes, same
    bytes)."""
    jar.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF"), "Manifest-Version: 1.0\r\n\r\n")
        for path in sorted(classes.rglob("*.class")):
            zf.writestr(zipfile.ZipInfo(path.relative_to(classes).as_posix()), path.read_bytes())


def ensure_runtime(version: str = NEO4J_VERSION, progress: Progress | None = None) -> Neo4jRuntime:
    """Fetch the Neo4j + APOC jars and compile the runner, once; later calls return at once.

    The cache is keyed by the version and a hash of the pom and Java source, so editing
    either rebuilds it.
    """
    runtime = Neo4jRuntime(root=runtime_dir(version), version=version)
    stamp = runtime.root / "runtime.json"
    fingerprint = _source_fingerprint(version)

    def ready() -> bool:
        try:
            data = json.loads(stamp.read_text("utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return bool(data.get("fingerprint") == fingerprint and runtime.runner_jar.is_file())

    if ready():
        return runtime
    with _locked(runtime.root.with_name(runtime.root.name + ".lock")):
        if ready():
            return runtime
        mvn = _require_tool("mvn", "fetch the Neo4j jars from Maven Central")
        javac = _require_tool("javac", "compile the Neo4j runner")
        runtime.root.mkdir(parents=True, exist_ok=True)
        build = runtime.root / "build"
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir()
        shutil.copy2(HARNESS_DIR / "pom.xml", build / "pom.xml")
        if progress:
            progress(f"Fetching Neo4j {version} + APOC jars (first run only, ~140 MB)", 0, None)
        lib_tmp = build / "lib"
        _run_tool(
            [
                mvn, "-B", "-q", "-f", str(build / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib_tmp}",
                "-DincludeScope=runtime",
                f"-Dneo4j.version={version}",
            ],
            f"mvn dependency:copy-dependencies (Neo4j {version})",
            cwd=build,
        )  # fmt: skip
        if progress:
            progress("Compiling the Neo4j runner", 0, None)
        classes_tmp = build / "classes"
        classes_tmp.mkdir()
        _run_tool(
            [javac, "-nowarn", "-d", str(classes_tmp), "-cp", str(lib_tmp / "*"),
             str(HARNESS_DIR / f"{MAIN_CLASS}.java")],
            "javac MedkgNeo4j.java",
        )  # fmt: skip
        _write_jar(classes_tmp, build / "runner" / runtime.runner_jar.name)
        plugins_tmp = build / "plugins"
        plugins_tmp.mkdir()
        apoc = sorted(lib_tmp.glob("apoc-*.jar"))
        if not apoc:
            raise Neo4jServerError(f"no APOC jar among the fetched dependencies in {lib_tmp}")
        for jar in apoc:
            shutil.copy2(jar, plugins_tmp / jar.name)
        for part in ("lib", "runner", "plugins"):
            shutil.rmtree(runtime.root / part, ignore_errors=True)
            (build / part).rename(runtime.root / part)
        shutil.rmtree(build, ignore_errors=True)
        stamp.write_text(json.dumps({"version": version, "fingerprint": fingerprint}), "utf-8")
    return runtime


# --------------------------------------------------------------------------- state
def state_dir() -> Path:
    return neo4j_state_dir()


def _private_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def credentials(name: str = DEFAULT_NAME, auth: tuple[str, str] | None = None) -> tuple[str, str]:
    """The server's ``(user, password)``: ``auth`` when given (and then kept), else the
    stored pair, else a new random password for ``neo4j`` generated now and stored (0600)."""
    path = neo4j_credentials_path(name)
    if auth is None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(path.read_text("utf-8"))
            return str(data["user"]), str(data["password"])
        auth = ("neo4j", secrets.token_urlsafe(24))
    _private_write(path, json.dumps({"user": auth[0], "password": auth[1]}) + "\n")
    return auth


# Variables the JVM may see: nothing else of the caller's environment (API keys, tokens).
JVM_ENV_KEEP = ("PATH", "JAVA_HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


def jvm_environment(user: str, password: str) -> dict[str, str]:
    """A minimal environment for the server process: locale and paths, plus the credentials
    (through the environment so the password never shows in `ps`)."""
    env = {k: os.environ[k] for k in JVM_ENV_KEEP if k in os.environ}
    env["MEDKG_NEO4J_AUTH_USER"], env["MEDKG_NEO4J_AUTH_PASSWORD"] = user, password
    return env


def state_path(name: str = DEFAULT_NAME) -> Path:
    return state_dir() / f"{name}.json"


def default_data_dir(name: str = DEFAULT_NAME) -> Path:
    return state_dir() / name


# Processes started by this Python process, so stop() can reap them (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    return pid_alive(pid)


def _is_runner(pid: int) -> bool:
    """True when pid is a medkg runner (guards against a recycled pid on Linux)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.is_file():
        return _alive(pid)
    try:
        return MAIN_CLASS.encode() in cmdline.read_bytes()
    except OSError:
        return False


def _bolt_reachable(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = [ln for ln in text.splitlines() if not ln.lstrip().startswith("at ")]
    return "\n".join(kept[-lines:])


# --------------------------------------------------------------------------- lifecycle
def status(name: str = DEFAULT_NAME) -> ServerInfo | None:
    """The running server recorded under ``name``, or None (a stale state file is removed)."""
    path = state_path(name)
    try:
        info = ServerInfo.from_dict(json.loads(path.read_text("utf-8")))
    except (OSError, json.JSONDecodeError, TypeError):
        return None
    if _alive(info.pid) and _is_runner(info.pid):
        return info
    path.unlink(missing_ok=True)
    return None


def start(
    data_dir: str | os.PathLike[str] | None = None,
    port: int = 0,
    auth: tuple[str, str] | None = None,
    heap: str = "1g",
    pagecache: str = "256m",
    name: str = DEFAULT_NAME,
    timeout: float = 120.0,
    version: str = NEO4J_VERSION,
    progress: Progress | None = None,
    import_first: ImportFirst | None = None,
) -> ServerInfo:
    """Start a Neo4j server in the background and wait until Bolt accepts connections.

    ``port=0`` lets the server pick a free port (the real one is in the returned URI).
    Authentication is always on: ``auth=(user, password)`` sets that user's password,
    otherwise the stored or a newly generated one is used (see :func:`credentials`). Data
    in ``data_dir`` (default ``$MEDKG_HOME/neo4j/<name>``, private) survives restarts.
    With ``import_first`` the server process first runs that offline import (its JVM starts
    while ``import_first.prepare`` runs here); ``timeout`` then covers the import too.
    """
    running = status(name)
    if running is not None:
        raise Neo4jServerError(
            f"a Neo4j server named {name!r} is already running at {running.uri} "
            f"(pid {running.pid}); stop it with `medkg neo4j stop`"
        )
    if auth is not None and (not auth[0] or not auth[1]):
        raise Neo4jServerError("auth needs a non-empty user name and password")
    runtime = ensure_runtime(version, progress=progress)
    java = _require_tool("java", "run Neo4j")
    work = Path(data_dir) if data_dir is not None else default_data_dir(name)
    work = work.expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(work, 0o700)  # other local users must not read the store files
    log_path = work / "server.log"
    user, password = credentials(name, auth)
    env = jvm_environment(user, password)
    cds = neo4j_cds.plan(runtime.root, java)
    jit = import_first.jit if import_first is not None else ()
    cmd = [
        java, f"-Xmx{heap}", *jit, *cds.options, *JAVA_OPENS, "-cp", runtime.classpath(), MAIN_CLASS,
        str(work), str(port), str(runtime.plugins), pagecache,
    ]  # fmt: skip
    args_file = work / ".import-args"
    if import_first is not None:
        cmd += [str(import_first.home), str(args_file)]
    if progress:
        progress(f"Starting Neo4j {version} (log: {log_path})", 0, None)
    began = time.monotonic()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(log_fd, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL if import_first is None else subprocess.PIPE,
            stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=work, start_new_session=True, umask=0o077,
        )  # fmt: skip
    _CHILDREN[proc.pid] = proc
    cds.started(proc.pid)
    if import_first is not None:
        _let_import_go(proc, import_first, args_file)
    uri = _wait_ready(proc, log_path, timeout, import_first)
    args_file.unlink(missing_ok=True)
    info = ServerInfo(
        uri=uri,
        pid=proc.pid,
        port=int(uri.rsplit(":", 1)[1]),
        name=name,
        data_dir=str(work),
        log_path=str(log_path),
        version=version,
        started_at=time.time(),
        user=user,
        startup_seconds=round(time.monotonic() - began, 2),
    )
    _private_write(state_path(name), json.dumps(info.to_dict(), indent=2))
    return info


def _let_import_go(proc: subprocess.Popen[bytes], job: ImportFirst, args_file: Path) -> None:
    """Run ``job.prepare`` while the JVM starts, hand its arguments to the JVM and say GO;
    if ``prepare`` fails, the JVM is told nothing (it sees stdin close) and is stopped."""
    assert proc.stdin is not None
    try:
        args = job.prepare()
        bad = [a for a in args if "\n" in a or "\r" in a]
        if bad:
            raise Neo4jServerError(f"an importer argument holds a line break: {bad[0]!r}")
        _private_write(args_file, "".join(f"{a}\n" for a in args))
        job.go = time.time()
    except BaseException:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        _terminate(proc.pid, grace=10.0)
        args_file.unlink(missing_ok=True)
        raise
    try:
        proc.stdin.write(b"GO\n")
        proc.stdin.close()
    except OSError:  # the JVM is gone already: _wait_ready reports its log
        pass


def _mark_values(line: str) -> tuple[float, float | None]:
    """The epoch seconds and JVM CPU seconds a mark line (``WAITING 1733380000123 2150``)
    carries; now and None for what it lacks."""
    parts = line.split()
    epoch = int(parts[1]) / 1000 if len(parts) > 1 and parts[1].isdigit() else time.time()
    cpu = int(parts[2]) / 1000 if len(parts) > 2 and parts[2].isdigit() else None
    return epoch, cpu


def _wait_ready(
    proc: subprocess.Popen[bytes], log_path: Path, timeout: float, job: ImportFirst | None = None
) -> str:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            for line in log_path.read_text("utf-8", errors="replace").splitlines():
                if line.startswith(READY_PREFIX):
                    return line[len(READY_PREFIX) :].strip()
                mark = next((m for m in IMPORT_MARKS if line.startswith(m + " ")), None)
                if job is not None and mark is not None and mark not in job.marks:
                    job.marks[mark], cpu = _mark_values(line)
                    if cpu is not None:
                        job.cpu[mark] = cpu
        code = proc.poll()
        if code is not None:
            _CHILDREN.pop(proc.pid, None)
            raise Neo4jServerError(
                f"Neo4j exited with code {code} before it was ready; log {log_path}:\n"
                f"{_log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            _terminate(proc.pid, grace=10.0)
            raise Neo4jServerError(
                f"Neo4j was not ready after {timeout:.0f} s; stopped it. Log {log_path}:\n"
                f"{_log_tail(log_path)}"
            )
        time.sleep(0.1 if job is not None else 0.25)


def _terminate(pid: int, grace: float) -> None:
    """SIGTERM (clean shutdown), then SIGKILL after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid) and time.monotonic() < deadline + 10:
            time.sleep(0.1)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def stop(name: str = DEFAULT_NAME, timeout: float = 60.0) -> ServerInfo | None:
    """Stop the server recorded under ``name``; returns what was stopped, or None."""
    info = status(name)
    if info is None:
        return None
    _terminate(info.pid, grace=timeout)
    state_path(name).unlink(missing_ok=True)
    return info


def reachable(info: ServerInfo) -> bool:
    """True when the server's Bolt port accepts TCP connections."""
    return _bolt_reachable(info.port)


def database_states(info: ServerInfo, timeout: float = 10.0) -> dict[str, str]:
    """Each database's real state (``online``, ``offline``, ``failed: <error>`` ...) as the
    server reports it, logging in with the stored credentials; raises
    :class:`Neo4jServerError` when the server does not answer."""
    import neo4j

    user, password = credentials(info.name)
    try:
        with neo4j.GraphDatabase.driver(
            info.uri, auth=(user, password), connection_timeout=timeout
        ) as driver:
            records, _, _ = driver.execute_query(
                "SHOW DATABASES YIELD name, currentStatus, statusMessage",
                database_="system",
            )
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        raise Neo4jServerError(f"Neo4j at {info.uri} does not answer: {exc}") from None
    states = {}
    for r in records:
        state = str(r["currentStatus"])
        if r["statusMessage"]:
            state += f": {r['statusMessage']}"
        states[str(r["name"])] = state
    return states


__all__ = [
    "NEO4J_VERSION",
    "ImportFirst",
    "Neo4jRuntime",
    "Neo4jServerError",
    "ServerInfo",
    "credentials",
    "database_states",
    "ensure_runtime",
    "jvm_environment",
    "reachable",
    "start",
    "state_path",
    "status",
    "stop",
]
