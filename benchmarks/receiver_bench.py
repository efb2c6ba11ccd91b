"""Action receiver benchmarks (benchmarks/README.md, "Action receiver").

1. Answer latency: one Alertmanager notification of 1000 alerts (about 0.7 MiB, inside the 4 MiB
   default limit) POSTed repeatedly to `gpuguard actions` and, side by side, to a minimal stdlib
   webhook receiver (read the body, json.loads it, answer 200: what a bare am-executor-like receiver
   does), reporting p50/p99 and the ratio. The receiver authenticates, validates every alert and
   decides after answering, on a scale-64 simulated node whose GPUs the alerts really name.
2. Actions at scale: one notification with a kill_workloads alert for each of the 64 GPUs of the
   `scale-64` profile, each GPU running one workload; time from the POST to the last fan override
   applied, to the last SIGTERM sent, and to the simulator's record of the last workload exit.

Usage: .venv/bin/python benchmarks/receiver_bench.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpuguard.simulator.node import SimNode  # noqa: E402  (benchmarks may use the test API)
from tests.support.procs import free_port, stop, wait_for, wait_http_ok  # noqa: E402

TOKEN = "bench-token"
POLICY = {
    "version": 1, "host_label": "Hostname", "lease_seconds": 300,
    "heartbeat": {"alertname": "Watchdog", "timeout_seconds": 3600},
    "failsafe": {"poll_interval_seconds": 0.5, "warning_celsius": 70, "critical_celsius": 75},
    "actions": {
        "fan_boost": [{"action": "fan_boost", "speed_percent": 100, "no_fans": "power_cap"}],
        "power_cap": [{"action": "power_cap", "fraction_of_default": 0.7}],
        "kill_workloads": [{"action": "fan_boost", "speed_percent": 100, "no_fans": "power_cap"},
                           {"action": "kill_workloads", "grace_seconds": 5}],
    },
    "protected": {"process_names": ["Xorg"]},
    "limits": {"kills_per_minute": 200},
}


def alert(uuid: str, gpu: int, action: str, fingerprint: str) -> dict:
    return {"status": "firing",
            "labels": {"alertname": "GPUTemperatureHigh", "severity": "warning", "gpuguard_action": action,
                       "Hostname": "bench-node", "UUID": uuid, "gpu": str(gpu),
                       "modelName": "NVIDIA H100 80GB HBM3", "pci_bus_id": f"00000000:{gpu:02X}:00.0"},
            "annotations": {"summary": f"GPU {gpu} is hot", "description": "above the warning tier"},
            "startsAt": "2026-11-30T01:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=gpuguard", "fingerprint": fingerprint}


def notification(alerts: list[dict]) -> bytes:
    return json.dumps({"version": "4", "groupKey": '{}:{alertname="GPUTemperatureHigh"}',
                       "truncatedAlerts": 0, "status": "firing", "receiver": "gpuguard-actions",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
                       "alerts": alerts}).encode()


class Baseline(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        json.loads(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def time_posts(url: str, body: bytes, repeats: int) -> list[float]:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for _ in range(5):
        session.post(url, data=body, headers=headers, timeout=10)  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=10)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return samples


def start_receiver(env: dict, workdir: Path) -> tuple[subprocess.Popen, str]:
    (workdir / "policy.yml").write_text(yaml.safe_dump(POLICY))
    (workdir / "token").write_text(TOKEN)
    (workdir / "token").chmod(0o600)  # the receiver refuses a token file others can read
    port = free_port()
    log = open(workdir / "receiver.log", "wb")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gpuguard")), "actions", "--listen", f"127.0.0.1:{port}",
         "--policy", str(workdir / "policy.yml"), "--auth-token-file", str(workdir / "token"),
         "--state-dir", str(workdir / "state"), "--node-name", "bench-node"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/health", process=process)
    return process, url


def audit(workdir: Path) -> list[dict]:
    path = workdir / "state" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def answer_latency(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, SimNode.create(profile="scale-64",
                                                               state_dir=Path(tmp) / "node") as node:
        gpus = node.status()["gpus"]
        alerts = [alert(gpus[i % 64]["uuid"], i % 64, "fan_boost", f"fp{i:04d}") for i in range(1000)]
        body = notification(alerts)
        process, url = start_receiver(node.env, Path(tmp))
        baseline = ThreadingHTTPServer(("127.0.0.1", 0), Baseline)
        threading.Thread(target=baseline.serve_forever, daemon=True).start()
        try:
            ours = time_posts(f"{url}/alerts", body, repeats)
            peer = time_posts(f"http://127.0.0.1:{baseline.server_address[1]}/alerts", body, repeats)
        finally:
            stop(process)
            baseline.shutdown()
        print(f"notification: 1000 alerts, {len(body)} bytes, {repeats} POSTs each")
        print("| receiver | p50 ms | p99 ms | max ms |\n|---|---|---|---|")
        for name, samples in (("gpuguard actions", ours), ("stdlib baseline", peer)):
            print(f"| {name} | {percentile(samples, 50) * 1e3:.1f} | {percentile(samples, 99) * 1e3:.1f} "
                  f"| {max(samples) * 1e3:.1f} |")
        print(f"ratio p50 {percentile(ours, 50) / percentile(peer, 50):.2f}, "
              f"p99 {percentile(ours, 99) / percentile(peer, 99):.2f}")


def actions_at_scale() -> None:
    with tempfile.TemporaryDirectory() as tmp, SimNode.create(profile="scale-64",
                                                               state_dir=Path(tmp) / "node") as node:
        gpus = node.status()["gpus"]
        workloads = [node.start_workload(i, watts=300.0) for i in range(len(gpus))]
        process, url = start_receiver(node.env, Path(tmp))
        try:
            alerts = [alert(g["uuid"], i, "kill_workloads", f"kill{i:02d}") for i, g in enumerate(gpus)]
            body = notification(alerts)
            t0 = time.time()
            response = requests.post(f"{url}/alerts", data=body, timeout=10,
                                     headers={"Authorization": f"Bearer {TOKEN}"})
            answered = time.time() - t0
            assert response.status_code == 200
            pids = {w.pid for w in workloads}

            def all_exited() -> list[dict] | None:
                exits = [e for e in node.events() if e.get("event") == "workload_exit" and e["pid"] in pids]
                return exits if len(exits) == len(pids) else None

            exits = wait_for(all_exited, timeout=120, what="all 64 workloads to exit")
            wait_for(lambda: len([e for e in audit(Path(tmp)) if e.get("result") == "killed"]) == len(gpus),
                     timeout=60, what="64 kill sequences to finish")
            events = audit(Path(tmp))
            applied = [e["ts"] for e in events if e.get("action") in ("fan_boost", "power_cap")
                       and e.get("result") == "applied"]
            sigterms = [e["ts"] for e in events if e["event"] == "kill_started"]
        finally:
            stop(process)
        print(f"GPUs: {len(gpus)} ({gpus[0]['name']}), one workload each (exits on SIGTERM)")
        print(f"answered in {answered * 1e3:.1f} ms")
        print(f"overrides applied: {len(applied)}, last at +{(max(applied) - t0) * 1e3:.0f} ms")
        print(f"SIGTERM sent on {len(sigterms)} GPUs, last at +{(max(sigterms) - t0) * 1e3:.0f} ms")
        last_exit = max(e["wall"] for e in exits) - t0
        print(f"last workload exit (simulator's record) at +{last_exit * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print("== answer latency ==")
    answer_latency(args.repeats)
    print("\n== actions at scale ==")
    actions_at_scale()


if __name__ == "__main__":
    main()
