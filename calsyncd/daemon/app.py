"""The daemon (``calsyncd run``): wires the supervisor, reloader, file watcher, HTTP server,
signals and systemd notifications together in one anyio task group.

Start: the HTTP port is bound, the rule workers start, ``READY=1``. SIGHUP or a change in the
configuration files reloads; an invalid configuration leaves the running rules alone.
SIGTERM/SIGINT: ``STOPPING=1``, no new cycles, running ones get ``shutdown_timeout`` to finish
and commit, exit 0. A second signal stops at once (exit 1; the engine is crash-safe).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import structlog

from calsyncd import log as logs
from calsyncd.config import Config, Settings, load_config
from calsyncd.daemon import watch
from calsyncd.daemon.clients import ClientPool
from calsyncd.daemon.http import build_app, listen, serve
from calsyncd.daemon.metrics import Metrics
from calsyncd.daemon.notify import Notifier
from calsyncd.daemon.reload import FILES, SIGNAL, Reloader, rule_changes
from calsyncd.daemon.status import status_document
from calsyncd.daemon.supervisor import MANUAL, RuleChanges, Supervisor, Triggered
from calsyncd.errors import ConfigError, Problem
from calsyncd.state.store import StateStore
from calsyncd.sync.service import SyncService

log = structlog.get_logger("calsyncd.daemon")

_STOP_SHARE = 1 / 3
"""Of ``shutdown_timeout``, what is kept (at most two seconds) for what follows the cycles:
stopping worker threads, closing the HTTP server and the process's own exit, which on a
loaded machine take more than a second together."""
_STOP_RESERVE = 2.0


class Daemon:
    """One running daemon; :meth:`run` returns its exit code."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        *,
        notifier: Notifier | None = None,
        reload_quiet: float = 0.5,
    ) -> None:
        assert config.settings_path is not None, "the daemon reads a settings file"
        self.settings_path: Path = config.settings_path
        self.config = config
        self.config_error: str | None = None
        self.loaded_at = time.time()
        self.store = store
        self.metrics = Metrics()
        self.notifier = notifier or Notifier()
        self.clients = ClientPool(self.metrics.request)
        self.service = SyncService(config.connections, store, None, http_for=self.clients.get)
        self.supervisor = Supervisor(self.service, store, self.metrics, on_change=self._changed)
        self.reloader = Reloader(reload_quiet)
        self.exit_code = 0
        self._stop = anyio.Event()
        self._watch_stop = anyio.Event()
        self._http_stop = anyio.Event()
        self._tasks: anyio.abc.TaskGroup | None = None

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> int:
        sock = None
        address = self.config.settings.health.address
        if address is not None:
            try:
                sock = listen(*address)
            except OSError as exc:
                log.error(
                    "cannot listen", listen=self.config.settings.health.listen, error=str(exc)
                )
                return 1
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                await tasks.start(self._signals)
                http_done = anyio.Event()
                if sock is not None:
                    host, port = sock.getsockname()[:2]
                    tasks.start_soon(self._serve_http, sock, http_done)
                    log.info("http listening", address=f"{host}:{port}", port=port)
                else:
                    http_done.set()
                await tasks.start(self.supervisor.run)
                self.supervisor.apply(self.config.rules, RuleChanges(frozenset(self.config.rules)))
                log.info(
                    "daemon started",
                    revision=self.config.revision,
                    rules=len(self.config.rules),
                    pid=os.getpid(),
                )
                self.notifier.ready(self._summary())
                tasks.start_soon(self.reloader.run, self._reload)
                tasks.start_soon(self._watch)
                tasks.start_soon(self._watchdog)
                await self._stop.wait()
                await self._shutdown(http_done)
                tasks.cancel_scope.cancel()
        finally:
            self._tasks = None
            await self.clients.aclose()
        log.info("daemon stopped", exit_code=self.exit_code)
        return self.exit_code

    async def _serve_http(self, sock: socket.socket, done: anyio.Event) -> None:
        try:
            await serve(build_app(self), sock, self._http_stop)
        finally:
            done.set()

    async def _shutdown(self, http_done: anyio.Event) -> None:
        timeout = self.config.settings.shutdown_timeout.total_seconds()
        started = anyio.current_time()
        self.notifier.stopping()
        log.info("stopping", shutdown_timeout=timeout)
        self._watch_stop.set()
        await self.supervisor.stop(timeout - min(_STOP_RESERVE, timeout * _STOP_SHARE))
        self._http_stop.set()
        with anyio.move_on_after(max(0.0, timeout - (anyio.current_time() - started))):
            await http_done.wait()

    async def _signals(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if signum == signal.SIGHUP:
                    log.info("reload requested", signal=name)
                    self.reloader.request(SIGNAL)
                elif not self._stop.is_set():
                    log.info("stop requested", signal=name)
                    self._stop.set()
                else:
                    log.warning("stopping at once", signal=name)
                    self.exit_code = 1
                    if self._tasks is not None:
                        self._tasks.cancel_scope.cancel()

    async def _watch(self) -> None:
        await watch.watch(
            lambda: watch.anchors(self.settings_path, self.config),
            lambda: self.reloader.request(FILES),
            self._watch_stop,
        )

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval is None:
            return
        while True:
            if self.supervisor.alive:  # this line running at all means the loop is alive
                self.notifier.watchdog()
            await anyio.sleep(interval)

    # -- reloading -------------------------------------------------------------------------

    async def _reload(self, reasons: frozenset[str]) -> None:
        if self._stop.is_set():
            return
        explicit = SIGNAL in reasons
        try:
            new: Config | ConfigError = await anyio.to_thread.run_sync(
                load_config, self.settings_path
            )
        except ConfigError as exc:
            new = exc
        except Exception as exc:  # a bug or exhaustion: a reload never takes the daemon down
            log.error("configuration could not be loaded", exc_info=exc)
            where = str(self.settings_path or "configuration")
            reason = f"cannot load the configuration: {type(exc).__name__}"
            new = ConfigError([Problem(where, 1, 1, reason)])
        if self._stop.is_set():
            return  # stopping began while the files were read
        if isinstance(new, ConfigError):
            self.notifier.reloading()
            self._invalid(new)
            self.notifier.ready(self._summary())
            return
        changes = rule_changes(self.config, new)
        unchanged = (
            not changes
            and new.revision == self.config.revision
            and new.settings == self.config.settings
            and self.config_error is None
        )
        if unchanged and not explicit:
            log.debug("configuration unchanged")
            return
        self.notifier.reloading()
        self._swap(new, changes)
        self.notifier.ready(self._summary())

    def _invalid(self, exc: ConfigError) -> None:
        problems = [str(p) for p in exc.problems]
        self.config_error = "\n".join(problems)
        self.metrics.reload(ok=False)
        log.error("configuration invalid; the running rules go on unchanged", problems=problems)

    def _swap(self, new: Config, changes: RuleChanges) -> None:
        old = self.config
        logs.register_secrets(new.secret_values())
        self._apply_settings(old.settings, new.settings)
        self.service.use_connections(new.connections)
        self.config = new
        self.config_error = None
        self.loaded_at = time.time()
        self.supervisor.apply(new.rules, changes)
        self.metrics.reload(ok=True)
        log.info(
            "configuration reloaded",
            revision=new.revision,
            added=sorted(changes.added),
            removed=sorted(changes.removed),
            changed=sorted(changes.changed),
        )

    def _apply_settings(self, old: Settings, new: Settings) -> None:
        if new.log != old.log:
            logs.setup(new.log.level, new.log.format)
        for key in ("health", "state"):
            if getattr(new, key) != getattr(old, key):
                log.warning("setting changes at the next start", setting=key)

    # -- what the endpoints ask ------------------------------------------------------------

    def health(self) -> str | None:
        return None if self.supervisor.alive else "supervisor not running"

    def readiness(self) -> str | None:
        if self._stop.is_set():
            return "stopping"
        if not self.supervisor.alive:
            return "supervisor not running"
        if not self.supervisor.state_ok or not os.access(self.store.path, os.W_OK):
            return f"state database not writable: {self.store.path}"
        waiting = self.supervisor.waiting_for_first_cycle()
        if waiting:
            return "waiting for the first cycle of: " + ", ".join(waiting)
        return None

    def status(self) -> dict[str, Any]:
        return status_document(
            self.config,
            self.store,
            config_error=self.config_error,
            loaded_at=self.loaded_at,
            runtime=self.supervisor.runtime,
        )

    def metrics_text(self) -> bytes:
        return self.metrics.render()

    def trigger(self, rule: str) -> Triggered:
        answer = self.supervisor.trigger(rule, MANUAL)
        if answer == "queued":
            log.info("cycle requested", rule=rule, by="http")
        return answer

    # -- systemd status --------------------------------------------------------------------

    def _summary(self) -> str:
        text = f"{self.supervisor.summary()}; config {self.config.revision}"
        return text + ("; last reload invalid" if self.config_error else "")

    def _changed(self) -> None:
        self.notifier.status(self._summary())


async def run_daemon(config: Config, store: StateStore) -> int:
    """Run the daemon until SIGTERM/SIGINT; the exit code."""
    return await Daemon(config, store).run()
