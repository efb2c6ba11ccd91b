"""gpuguard exporter vs nvitop-exporter 1.7.2, side by side on one simulated node.

For each profile (dgx-h100: 8 GPUs, scale-64: 64 GPUs), both exporters collecting every 1 s:
  1. NVML calls per GPU per cycle: each exporter alone for a window, the simulator's call counts
     before and after (`realistic` latency, sleep mode);
  2. scrape latency p50/p99 over SCRAPES scrapes each, alternating, keep-alive, gzip as Prometheus
     asks (sleep mode: latency is waited out without burning CPU, so the two do not skew each other);
  3. CPU seconds per minute and peak RSS over CPU_WINDOW seconds, both scraped once a second
     (busy-wait mode: driver time is spent on the caller's CPU, as in a real driver); meanwhile, how
     many collections each one really made per GPU per second (both share the simulated RM lock, so
     one that cannot keep up collects less and looks cheaper) and the fewest of our GPUs up in a
     scrape (a GPU that timed out is not read, which would look cheaper too).

Run: .venv/bin/python benchmarks/exporter_scrape.py [--scrapes 500] [--cpu-window 30] [--profiles ...]
[--gpuguard-args "--process-interval 1000"] (`make bench`). Needs the simulated driver
(`make driver`). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpuguard.simulator.node import SimNode  # noqa: E402
from tests.support.procs import free_port, stop, wait_for  # noqa: E402

BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
GPUS = {"dgx-h100": 8, "scale-64": 64}
# Each exporter reads every GPU's temperature once per collection, through its own NVML function:
# the simulator's count of it is that exporter's collections.
CYCLE_CALL = {"gpuguard": "nvmlDeviceGetTemperature", "nvitop": "nvmlDeviceGetTemperatureV"}


def scrape(conn: http.client.HTTPConnection) -> tuple[float, bytes]:
    started = time.perf_counter()
    conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    assert response.status == 200, response.status
    return elapsed, body


def gpus_up(gzipped: bytes) -> int:
    return sum(1 for line in gzip.decompress(gzipped).splitlines()
               if line.startswith(b"gpuguard_gpu_up{") and line.endswith(b" 1"))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def exporter(kind: str, env: dict[str, str], log_dir: Path,
             extra: tuple[str, ...] = ()) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    if kind == "gpuguard":
        args = [str(BIN / "gpuguard"), "exporter", "-a", f"127.0.0.1:{port}", "-c", "1000", *extra]
    else:
        args = [str(BIN / "nvitop-exporter"), "--bind-address", "127.0.0.1", "--port", str(port),
                "--interval", "1.0"]
    with open(log_dir / f"{kind}-{port}.log", "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        def ready() -> bool:
            assert process.poll() is None, f"{kind} exited; see {log_dir}"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/metrics")
            body = conn.getresponse().read()
            # both name the GPU temperature series once the first collection is in
            return b"DCGM_FI_DEV_GPU_TEMP{" in body or b"gpu_temperature_C{" in body
        wait_for(ready, timeout=120, what=f"{kind} to serve GPU metrics")
        yield process, port
    finally:
        stop(process)


def calls_per_gpu_second(node: SimNode, kind: str, gpus: int, log_dir: Path, window: float,
                         extra: tuple[str, ...]) -> float:
    with exporter(kind, node.env, log_dir, extra if kind == "gpuguard" else ()):
        time.sleep(2.0)  # past start-up work (enumeration, one-off reads)
        before = sum(node.calls().values())
        time.sleep(window)  # a fixed measuring window: the cycles it holds are the denominator
        after = sum(node.calls().values())
    return (after - before) / gpus / window


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_profile(profile: str, scrapes: int, cpu_window: float, work: Path,
                extra: tuple[str, ...]) -> dict[str, dict[str, float]]:
    gpus = GPUS[profile]
    result: dict[str, dict[str, float]] = {"gpuguard": {}, "nvitop": {}}
    print(f"[{profile}] calls per GPU per cycle (sleep mode)", file=sys.stderr)
    with SimNode.create(profile=profile, state_dir=work / f"{profile}-sleep", latency="realistic",
                        latency_mode="sleep") as node:
        for kind in result:
            result[kind]["calls"] = calls_per_gpu_second(node, kind, gpus, work, 5.0, extra)
        print(f"[{profile}] {scrapes} scrapes each, alternating (sleep mode)", file=sys.stderr)
        with exporter("gpuguard", node.env, work, extra) as (_, ours), \
                exporter("nvitop", node.env, work) as (_, peer):
            conns = {"gpuguard": http.client.HTTPConnection("127.0.0.1", ours, timeout=30),
                     "nvitop": http.client.HTTPConnection("127.0.0.1", peer, timeout=30)}
            latencies: dict[str, list[float]] = {kind: [] for kind in conns}
            for _ in range(scrapes):
                for kind, conn in conns.items():
                    elapsed, body = scrape(conn)
                    latencies[kind].append(elapsed)
                    result[kind]["bytes"] = len(body)
            for kind, values in latencies.items():
                result[kind]["p50_ms"] = statistics.median(values) * 1000
                result[kind]["p99_ms"] = percentile(values, 0.99) * 1000
    print(f"[{profile}] CPU and RSS over {cpu_window:.0f} s (busy mode)", file=sys.stderr)
    with SimNode.create(profile=profile, state_dir=work / f"{profile}-busy", latency="realistic",
                        latency_mode="busy") as node, \
            exporter("gpuguard", node.env, work, extra) as (ours_proc, ours), \
            exporter("nvitop", node.env, work) as (peer_proc, peer):
        procs = {"gpuguard": (ours_proc, ours), "nvitop": (peer_proc, peer)}
        conns = {kind: http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                 for kind, (_, port) in procs.items()}
        start_cpu = {kind: cpu_seconds(proc.pid) for kind, (proc, _) in procs.items()}
        start_calls = node.calls()
        started = time.monotonic()
        fewest_up = gpus
        while time.monotonic() - started < cpu_window:
            tick = time.monotonic()
            for kind, conn in conns.items():
                _, body = scrape(conn)  # as Prometheus would, once a second
                if kind == "gpuguard":
                    fewest_up = min(fewest_up, gpus_up(body))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        elapsed = time.monotonic() - started
        end_calls = node.calls()
        for kind, (proc, _) in procs.items():
            result[kind]["cpu_s_per_min"] = (cpu_seconds(proc.pid) - start_cpu[kind]) / elapsed * 60
            result[kind]["rss_mb"] = peak_rss_mb(proc.pid)
            cycles = end_calls.get(CYCLE_CALL[kind], 0) - start_calls.get(CYCLE_CALL[kind], 0)
            result[kind]["cycles_per_s"] = cycles / gpus / elapsed
        result["gpuguard"]["fewest_up"] = fewest_up
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=500)
    parser.add_argument("--cpu-window", type=float, default=30.0)
    parser.add_argument("--profiles", nargs="+", default=list(GPUS), choices=list(GPUS))
    parser.add_argument("--gpuguard-args", default="", help="further flags for gpuguard exporter")
    args = parser.parse_args()
    extra = tuple(shlex.split(args.gpuguard_args))
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpuguard-bench-") as folder:
        for profile in args.profiles:
            r = run_profile(profile, args.scrapes, args.cpu_window, Path(folder), extra)
            ours, peer = r["gpuguard"], r["nvitop"]
            rows.append(
                f"| {profile} ({GPUS[profile]} GPUs) | {ours['p50_ms']:.2f} / {peer['p50_ms']:.2f} "
                f"({peer['p50_ms'] / ours['p50_ms']:.0f}×) | {ours['p99_ms']:.2f} / {peer['p99_ms']:.2f} "
                f"| {ours['cpu_s_per_min']:.2f} / {peer['cpu_s_per_min']:.2f} "
                f"({ours['cpu_s_per_min'] / peer['cpu_s_per_min']:.2f}) "
                f"| {ours['cycles_per_s']:.2f} / {peer['cycles_per_s']:.2f} "
                f"| {ours['fewest_up']:.0f} of {GPUS[profile]} "
                f"| {ours['rss_mb']:.0f} / {peer['rss_mb']:.0f} | {ours['calls']:.1f} / {peer['calls']:.1f} "
                f"| {ours['bytes'] / 1024:.0f} / {peer['bytes'] / 1024:.0f} |"
            )
    print(f"gpuguard exporter -c 1000 {args.gpuguard_args}".rstrip())
    print("| node | scrape p50 ms, ours / nvitop (speed-up) | scrape p99 ms | CPU s/min (ratio) "
          "| collections per GPU per s, CPU window | fewest of our GPUs up in a scrape "
          "| peak RSS MB | NVML calls per GPU per second | gzipped body KiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
