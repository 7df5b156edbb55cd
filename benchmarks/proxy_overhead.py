"""What ``serve --proxy-to --record`` adds to each request: the same GETs direct and proxied.

An upstream fake and a recording proxy in front of it, both on loopback in this
process's threads (uvicorn, as ``serve`` runs them); one keep-alive client
sends the same requests straight to the upstream and through the proxy, in
alternating rounds, and this prints the median and p99 of each and what the
proxy adds (the target: at most 5 ms a request while recording).

    .venv/bin/python benchmarks/proxy_overhead.py [requests per round]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_api import MockService, Settings, create_app
from mock_api.server import LiveServer

KEY = "bench-key"
SUBMIT = "/api/v3/wavespeed-ai/infinitetalk-fast/video-to-video-multi"


def _times(client: httpx.Client, base: str, paths: list[str]) -> list[float]:
    spent = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(base + path)
        spent.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    return spent


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    upstream = MockService(Settings(api_keys=frozenset({KEY})))
    with tempfile.TemporaryDirectory() as folder, LiveServer(create_app(service=upstream)) as up:
        proxy = MockService(Settings(proxy_to=up.url, record_dir=folder))
        with LiveServer(create_app(service=proxy)) as front:
            auth = {"Authorization": f"Bearer {KEY}"}
            with httpx.Client(headers=auth, timeout=30) as client:
                samples = f"{up.url}/media/samples"
                job = client.post(
                    up.url + SUBMIT,
                    json={
                        "video": f"{samples}/video.mp4?seconds=2",
                        "left_audio": f"{samples}/silence.wav?seconds=1",
                        "right_audio": f"{samples}/silence.wav?seconds=2",
                    },
                ).json()["data"]["id"]
                paths = ["/api/v3/balance", f"/api/v3/predictions/{job}/result"] * (count // 2)
                direct: list[float] = []
                proxied: list[float] = []
                _times(client, up.url, paths[:50])  # warm both
                _times(client, front.url, paths[:50])
                for _ in range(3):
                    direct += _times(client, up.url, paths)
                    proxied += _times(client, front.url, paths)
            recorded = sum(1 for _ in (Path(folder) / "exchanges.jsonl").open())

    def p99(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.99) - 1]

    print(f"{len(direct)} GETs each way (balance and a job's result), recording on")
    print(f"  direct   median {statistics.median(direct):6.2f} ms   p99 {p99(direct):6.2f} ms")
    print(f"  proxied  median {statistics.median(proxied):6.2f} ms   p99 {p99(proxied):6.2f} ms")
    added = statistics.median(proxied) - statistics.median(direct)
    print(f"  the proxy adds {added:.2f} ms a request at the median (target: <= 5 ms)")
    print(f"  {recorded} exchanges recorded")


if __name__ == "__main__":
    main()
