"""Running ``wavespeed-mock serve`` as a real process, for tests that need a socket."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: ``serve``'s first line names the port it listens on (``--port 0``: the one the system chose).
_BANNER_PORT = re.compile(rb"docs at http://[^\s]+:(\d+)/docs")


class ServerProcess:
    """One ``serve`` process on a loopback port: start it, stop it, start it again.

    Without ``port``, the first start asks for ``--port 0`` and reads the port the
    system gave from ``serve``'s first line; restarts keep it. (Choosing a free port
    here and handing it over left a window in which a test running beside this one
    could take it, or answer this one's readiness probe from its own server.)
    """

    def __init__(
        self,
        *args: str,
        port: int | None = None,
        command: Sequence[str] = (sys.executable, "-m", "mock_api.cli"),
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.args = args
        self.command = tuple(command)
        self.cwd = cwd
        self.env = None if env is None else dict(env)
        self.port = port or 0
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe, so a chatty server never blocks; kept across restarts.
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server has not been started: its port is not known yet")
        return f"http://127.0.0.1:{self.port}"

    def _chosen_port(self) -> int | None:
        self._log.seek(0)
        found = _BANNER_PORT.search(self._log.read())
        return int(found.group(1)) if found else None

    def start(self, timeout: float = 20.0) -> ServerProcess:
        command = [
            *self.command,
            "serve",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            *self.args,
        ]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.cwd, env=self.env
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output}")
            if not self.port:
                self.port = self._chosen_port() or 0
            try:
                # Until serve has said where it listens, there is nothing to ask.
                if (
                    self.port
                    and httpx.get(f"{self.url}/openapi.yaml", timeout=1).status_code == 200
                ):
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                # Callers start servers outside their try blocks: a server that is
                # slow to answer must not outlive the test that gave up on it.
                self.stop(signal.SIGKILL)
                where = f"on {self.url}" if self.port else "(no port announced)"
                raise RuntimeError(f"server {where} did not start within {timeout} s")
            time.sleep(0.05 if self.port else 0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` (SIGTERM: a graceful stop; SIGKILL: a crash); returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # a stop that hangs shows as -9
            process.kill()
            return process.wait()

    @property
    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self._log.close()


@contextmanager
def serve(*args: str, timeout: float = 20.0) -> Iterator[str]:
    """Start the CLI's server on a free loopback port; yield its base URL.

    Unless ``args`` choose where state lives, it lives in a directory of its
    own, removed afterwards, so every server starts fresh.
    """
    with tempfile.TemporaryDirectory() as data_dir:
        if not {"--db", "--data-dir"} & set(args):
            args = ("--data-dir", data_dir, *args)
        server = ServerProcess(*args)
        try:
            yield server.start(timeout).url
        finally:
            server.close()
