"""Private PostgreSQL and RabbitMQ instances that the soak and the restart tests stop, kill and restart.

The machine's shared services (PostgreSQL on 5432, RabbitMQ on 5672) are never touched: each instance
here has its own temporary directory, its own ports, its own socket directory (PostgreSQL), its own node
name, Erlang cookie, data and log directories (RabbitMQ), and ignores the system configuration files.

Everything is synchronous (``subprocess``); async callers run the slow parts through ``asyncio.to_thread``
so that the workers keep running while a service restarts. A missing binary raises :class:`ServiceError`:
a soak or a test must fail loudly on a machine without the packages, never skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

PG_USER = "postgres"  # initdb and postgres refuse to run as root; the package creates this user
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")  # the real scripts, not /usr/sbin's wrappers that `su rabbitmq`
PORT_RANGE = (20000, 32000)  # below the ephemeral range, so a picked port is not taken by a client socket


class ServiceError(RuntimeError):
    """A private service could not be found, started or stopped; the message says what and where."""


def free_port(taken: set[int] | None = None) -> int:
    """A TCP port nobody listens on now (checked by binding it), outside the ephemeral range."""
    taken = taken or set()
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(*PORT_RANGE)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
        return port
    raise ServiceError(f"no free TCP port found in {PORT_RANGE}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _run(
    args: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"{' '.join(args)} did not finish in {timeout} s") from exc


def _wait_until(what: str, ready: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(interval)
    raise ServiceError(f"{what}: not ready after {timeout} s")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


OWNER_FILE = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_if_ours(pid_file: Path, mark: str, group: bool = False) -> None:
    """SIGKILL the process named in ``pid_file`` only if its command line still names ``mark``
    (our data directory or node name), so that a recycled pid is never hit."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if mark not in _cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)


def reap_orphans(prefix: str, kill: Callable[[Path], None]) -> None:
    """Remove what an earlier run left behind when it was killed before its clean-up could run:
    instances whose owning test process is gone."""
    for root in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        kill(root)
        shutil.rmtree(root, ignore_errors=True)


def _own(root: Path) -> None:
    (root / OWNER_FILE).write_text(str(os.getpid()))


# ---------------------------------------------------------------------------------------------- PostgreSQL

PG_PREFIX = "cbro-pg-"


def postgres_bin_dir() -> Path:
    """The newest installed server's bin directory (``/usr/lib/postgresql/<major>/bin``)."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise ServiceError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb)")
    return found[-1]


class PrivatePostgres:
    """A throw-away cluster: ``start()``, ``stop(mode)``, ``restart()``, ``close()`` (also on failure)."""

    def __init__(self, max_connections: int = 100) -> None:
        self.bin = postgres_bin_dir()
        self.max_connections = max_connections
        try:
            self._owner = pwd.getpwnam(PG_USER)
        except KeyError as exc:
            raise ServiceError(f"user {PG_USER!r} missing (it comes with the postgresql package)") from exc
        reap_orphans(PG_PREFIX, lambda root: _kill_if_ours(root / "data" / "postmaster.pid", str(root)))
        self.root = Path(tempfile.mkdtemp(prefix=f"{PG_PREFIX}{uuid.uuid4().hex[:6]}-"))
        _own(self.root)
        os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.started = 0
        self._initdb()

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *args: str) -> list[str]:
        if os.geteuid() == self._owner.pw_uid:
            return list(args)
        if os.geteuid() != 0:
            raise ServiceError(f"run as root or as {PG_USER} to manage a private PostgreSQL")
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return [runuser, "-u", PG_USER, "--", *args]

    def _ctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        done = _run(self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), *args), timeout)
        return done

    def _initdb(self) -> None:
        done = _run(
            self._as_owner(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            60,
        )
        if done.returncode != 0:
            raise ServiceError(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.root}'",
            "fsync = off",  # the tests crash the server process, not the machine
            f"max_connections = {self.max_connections}",
            "shared_buffers = 32MB",
            "logging_collector = off",
        ]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# private test cluster\n" + "\n".join(settings) + "\n")

    def start(self, timeout: float = 30) -> None:
        done = self._ctl("-l", str(self.log), "-w", "-t", str(int(timeout)), "start", timeout=timeout + 5)
        if done.returncode != 0:
            raise ServiceError(
                f"pg_ctl start failed ({done.returncode}): {done.stderr.strip()}\n{_tail(self.log)}"
            )
        _wait_until(f"PostgreSQL on port {self.port}", self.is_ready, timeout)
        self.started += 1

    def is_ready(self) -> bool:
        done = _run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)], 10)
        return done.returncode == 0

    def stop(self, mode: str = "immediate", timeout: float = 30) -> None:
        """``immediate`` is a crash as far as clients know: every connection is cut at once."""
        done = self._ctl("-m", mode, "-w", "-t", str(int(timeout)), "stop", timeout=timeout + 5)
        if done.returncode != 0:
            raise ServiceError(f"pg_ctl stop failed ({done.returncode}): {done.stderr.strip()}")

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        """Stop (whatever state it is in) and delete the cluster. Never raises."""
        with contextlib.suppress(Exception):
            if self._postmaster_pid() is not None:
                self._ctl("-m", "immediate", "-w", "-t", "10", "stop", timeout=15)
        _kill_if_ours(self.data / "postmaster.pid", str(self.root))
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- RabbitMQ

RABBIT_PREFIX = "cbro-rmq-"


def _kill_orphan_rabbit(root: Path) -> None:
    # the broker's command line names its home directory, inside root; its parent script and
    # erl_child_setup end with it
    _kill_if_ours(root / "rabbit.pid", str(root))


class PrivateRabbit:
    """A single RabbitMQ node of our own, run in the foreground as a child process.

    The child is the ``rabbitmq-server`` script, leader of a new process group that holds the broker
    (``beam.smp``) and its helpers: ``kill()`` SIGKILLs that whole group, the broker included, with no
    chance to clean up. ``stop()`` is the graceful ``rabbitmqctl stop``. Data (mnesia, quorum logs) lives
    in the temporary directory and survives both.
    """

    def __init__(self) -> None:
        for tool in ("rabbitmq-server", "rabbitmqctl"):
            if not (RABBIT_BIN / tool).exists():
                raise ServiceError(f"{RABBIT_BIN / tool} not found (the rabbitmq-server package)")
        if shutil.which("erl") is None:
            raise ServiceError("erl not found (the erlang packages that rabbitmq-server depends on)")
        reap_orphans(RABBIT_PREFIX, _kill_orphan_rabbit)
        suffix = uuid.uuid4().hex[:8]
        self.node = f"rabbit-test-{suffix}@localhost"
        self.root = Path(tempfile.mkdtemp(prefix=f"{RABBIT_PREFIX}{suffix}-"))
        _own(self.root)
        self.port = free_port()
        self.dist_port = free_port({self.port})
        self.log = self.root / "server.log"
        self.started = 0
        self._proc: subprocess.Popen[bytes] | None = None
        home = self.root / "home"
        for d in ("home", "mnesia", "log"):
            (self.root / d).mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        (self.root / "rabbitmq.conf").write_text(
            "loopback_users.guest = true\nlog.console = true\nlog.console.level = warning\n"
        )
        (self.root / "enabled_plugins").write_text("[].\n")  # no management plugin, so no port 15672
        (self.root / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(home),  # our own cookie, for the server and for rabbitmqctl
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _ctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return _run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args], timeout, self.env)

    def start(self, timeout: float = 60) -> None:
        if self.pid is not None:
            raise ServiceError(f"{self.node} is already running (pid {self.pid})")
        self._reap()
        log = self.log.open("ab")
        try:
            self._proc = subprocess.Popen(
                [str(RABBIT_BIN / "rabbitmq-server")],
                env=self.env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our own process group: killed as one, never by a terminal's ^C
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise ServiceError(
                    f"{self.node} exited with {self._proc.returncode} while starting:\n{_tail(self.log)}"
                )
            if port_open(self.port) and self._started_within(deadline):
                break
            if time.monotonic() > deadline:
                raise ServiceError(f"{self.node} not up after {timeout} s:\n{_tail(self.log)}")
            time.sleep(0.2)
        self.started += 1

    def _started_within(self, deadline: float) -> bool:
        """Whether the node says it has started; on a loaded machine ``rabbitmqctl`` itself (an Erlang VM)
        may take longer than one probe allows, which is not a failure while the deadline is ahead."""
        try:
            done = self._ctl("-q", "await_startup", "--timeout", "10", timeout=20)
        except ServiceError:
            if time.monotonic() > deadline:
                raise
            return False
        return done.returncode == 0

    def stop(self, timeout: float = 30) -> None:
        """Graceful: ``rabbitmqctl stop``, then wait for the process to end."""
        done = self._ctl("stop", timeout=timeout)
        if done.returncode != 0:
            raise ServiceError(f"rabbitmqctl stop failed ({done.returncode}): {done.stderr.strip()}")
        self._wait_exit(timeout)

    def kill(self) -> None:
        """SIGKILL the broker's process group: the script, ``beam.smp`` and ``erl_child_setup``."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._wait_exit(10)

    def restart(self, hard: bool) -> None:
        if hard:
            self.kill()
        else:
            self.stop()
        self.start()

    def _wait_exit(self, timeout: float) -> None:
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"{self.node} (pid {self._proc.pid}) did not exit in {timeout} s") from exc
        # the node name is free in epmd only once the port closes
        _wait_until(f"{self.node} port {self.port} closed", lambda: not port_open(self.port), 10)

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(0)

    def close(self) -> None:
        """Kill the node (whatever its state) and delete its directory. Never raises."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
