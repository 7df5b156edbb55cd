"""Running ``wavespeed-mock serve`` as a real process, for tests that need a socket."""

from __future__ import annotations

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


class ServerProcess:
    """One ``serve`` process on a fixed loopback port: start it, stop it, start it again."""

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
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe, so a chatty server never blocks; kept across restarts.
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()

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
            try:
                if httpx.get(f"{self.url}/openapi.yaml", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                # Callers start servers outside their try blocks: a server that is
                # slow to answer must not outlive the test that gave up on it.
                self.stop(signal.SIGKILL)
                raise RuntimeError(f"server on {self.url} did not start within {timeout} s")
            time.sleep(0.05)

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
