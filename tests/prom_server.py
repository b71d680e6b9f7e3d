"""A real Prometheus on loopback for tests and benchmarks, and a synthetic exporter.

Generator-independent: give it rule files and scrape targets; it starts
/usr/bin/prometheus on 127.0.0.1 with a free port and a temporary TSDB, waits until
it is ready, answers API queries, and always stops the server (use it as a context
manager). The exporter serves counters that grow with wall-clock time at a rate and a
failed share the test can change while it runs.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import yaml

READY_TIMEOUT = 30.0
PORT_ATTEMPTS = 3


class _PortTaken(RuntimeError):
    """Prometheus could not bind its port: something else took it after we picked it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MetricsEndpoint:
    """/metrics on a free loopback port, serving what `render()` returns at each scrape.
    Use as a context manager."""

    def __init__(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = endpoint.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def render(self) -> str:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class Exporter(MetricsEndpoint):
    """/metrics with request counters: `rate` events/s, of which `bad_share` fail; and
    gauges the test can set while it runs (`set_gauge`)."""

    def __init__(
        self, metric: str, labels: dict[str, str], rate: float = 100.0, good: float = 0.0
    ) -> None:
        """`good`: the ok counter's value now, to continue a backfilled history."""
        super().__init__()
        self.metric, self.labels, self.rate = metric, labels, rate
        self.bad_share = 0.0
        self.gauges: dict[str, float] = {}
        self._lock = threading.Lock()
        self._good, self._bad = good, 0.0
        self._last = time.monotonic()
        self.failing_since: float | None = None  # wall clock of the last set_bad_share > 0

    def set_bad_share(self, share: float) -> None:
        with self._lock:
            self._advance()
            self.bad_share = share
            self.failing_since = time.time() if share else None

    def set_gauge(self, name: str, value: float) -> None:
        with self._lock:
            self.gauges[name] = value

    def _advance(self) -> None:
        now = time.monotonic()
        events = self.rate * (now - self._last)
        self._bad += events * self.bad_share
        self._good += events * (1 - self.bad_share)
        self._last = now

    def render(self) -> str:
        with self._lock:
            self._advance()
            good, bad = self._good, self._bad
            gauges = sorted(self.gauges.items())
        base = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        sep = "," if base else ""
        lines = [
            f"# TYPE {self.metric} counter",
            f'{self.metric}{{{base}{sep}code="200"}} {good!r}',
            f'{self.metric}{{{base}{sep}code="500"}} {bad!r}',
        ]
        for name, value in gauges:
            lines += [f"# TYPE {name} gauge", f"{name}{{{base}}} {value!r}"]
        return "\n".join(lines) + "\n"


def backfill(data_dir: Path, samples: dict[str, list[tuple[float, float]]]) -> None:
    """Write history into a TSDB directory before a server starts on it: {series text:
    [(unix seconds, value), ...]} through `promtool tsdb create-blocks-from openmetrics`
    (untyped samples; series text as in the exposition format, `name{labels}`)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise RuntimeError("promtool not found; run scripts/ensure-prometheus.sh")
    lines = []
    families: dict[str, list[str]] = {}
    for series in samples:
        families.setdefault(series.split("{", 1)[0], []).append(series)
    for members in families.values():  # OpenMetrics: one family's samples together
        points = sorted((t, series, v) for series in members for t, v in samples[series])
        lines += [f"{series} {v!r} {t:.3f}" for t, series, v in points]
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="promspec-backfill-") as tmp:
        text = Path(tmp) / "history.om"
        text.write_text("\n".join([*lines, "# EOF"]) + "\n")
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(text), str(data_dir)],
            check=True,
            capture_output=True,
            timeout=120,
        )


class PrometheusServer:
    """`with PrometheusServer(rule_files, targets={"job": "127.0.0.1:port"}) as prom:`

    By default the TSDB is a fresh temporary directory. Benchmarks pass `data_dir` (a
    TSDB they backfilled, kept on exit) and a `retention` longer than its history, since
    Prometheus deletes blocks older than the retention at start.
    """

    def __init__(
        self,
        rule_files: list[Path],
        targets: dict[str, str] | None = None,
        interval: str = "1s",
        binary: str = "prometheus",
        *,
        data_dir: Path | None = None,
        retention: str = "1d",
        api_timeout: float = 10.0,
        honor_labels: bool = False,
    ) -> None:
        path = shutil.which(binary)
        if path is None:
            raise RuntimeError("prometheus not found; run scripts/ensure-prometheus.sh")
        self.binary = path
        self.rule_files = rule_files
        self.targets = targets or {}
        self.interval = interval
        self.data_dir = data_dir
        self.retention = retention
        self.api_timeout = api_timeout
        self.honor_labels = honor_labels  # keep the scraped job and instance labels
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def _config(self, root: Path) -> Path:
        config = {
            "global": {"scrape_interval": self.interval, "evaluation_interval": self.interval},
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "honor_labels": self.honor_labels,
                    "static_configs": [{"targets": [target]}],
                }
                for job, target in sorted(self.targets.items())
            ],
        }
        path = root / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        return path

    def __enter__(self) -> PrometheusServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="promspec-prom-")
        root = Path(self._tmp.name)
        self.log = root / "prometheus.log"
        try:
            # The port was free when picked, but another process (a parallel test worker)
            # may take it before Prometheus binds it: pick another one and start again.
            for attempt in range(1, PORT_ATTEMPTS + 1):
                self._start(root)
                try:
                    self._wait_ready()
                    break
                except _PortTaken:
                    if attempt == PORT_ATTEMPTS:
                        raise
                    self.port = free_port()
                    self.url = f"http://127.0.0.1:{self.port}"
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self, root: Path) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self._config(root)}",
                    f"--storage.tsdb.path={self.data_dir or root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    f"--storage.tsdb.retention.time={self.retention}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = self.log.read_text()
                if "address already in use" in log:
                    raise _PortTaken(self.port)
                raise RuntimeError(f"prometheus exited: {log[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready after {READY_TIMEOUT}s")

    def __exit__(self, *exc: object) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=15)
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = f"{self.url}/api/v1/{path}{query}"
        with urllib.request.urlopen(url, timeout=self.api_timeout) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, what: str, check: Any, timeout: float = 60.0, every: float = 0.5) -> Any:
        """Poll `check()` until it returns something truthy; fail with `what` on timeout."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
