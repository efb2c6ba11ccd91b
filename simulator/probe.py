"""Record what a real NVIDIA driver answers, read-only, so a simulator profile can be checked against it.

Runs anywhere nvidia-ml-py and a driver are (it imports nothing of gpuguard):

    python3 simulator/probe.py --out DIR

and writes, in DIR:
- `calls.jsonl`: every `nvmlDeviceGet*` / `nvmlSystemGet*` getter of pynvml called on every GPU (with the
  argument sets a monitoring client uses: each clock, threshold, link, ...), one line a call, with its
  value or the NVML error's name;
- `fields.jsonl`: every `NVML_FI_*` field id through `nvmlDeviceGetFieldValues`, with its return code;
- `struct_writes.json`: how many bytes each versioned entry point writes into a buffer filled with
  guard bytes (the size a real driver writes for each struct version);
- `summary.txt`: a short human-readable digest;
- `probe.tar.gz`: all of the above in one file.

Only getters are called: nothing changes the GPU's settings. Each GPU is probed in a child process that
resumes after a crash, skipping the call that crashed (and recording it), so one bad binding cannot end
the run.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import inspect
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

# Arguments beyond the handle for getters whose extra parameters are enums or indices.
CLOCKS = range(4)          # graphics, SM, memory, video
CLOCK_IDS = range(4)       # current, app target, app default, customer boost max
THRESHOLDS = range(13)     # NVML_TEMPERATURE_THRESHOLD_*
LINKS = range(18)
PERF_POLICIES = range(12)
SAMPLE_TYPES = range(10)
INFOROM_OBJECTS = range(4)
SKIP = {
    # handle look-ups and MIG handle navigation: covered by the MIG walk below
    "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetHandleByPciBusId", "nvmlDeviceGetHandleBySerial",
    "nvmlDeviceGetHandleByUUID", "nvmlDeviceGetHandleByUUIDV", "nvmlDeviceGetCount",
    "nvmlDeviceGetMigDeviceHandleByIndex", "nvmlDeviceGetDeviceHandleFromMigDeviceHandle",
    "nvmlDeviceGetGpuInstanceById", "nvmlDeviceGetFieldValues",
    # attestation and certificates: large, not monitoring
    "nvmlDeviceGetConfComputeGpuAttestationReport", "nvmlDeviceGetConfComputeGpuCertificate",
}


def extra_args(name: str, pynvml: Any, handle: Any) -> list[tuple[Any, ...]]:
    """The argument sets to try for one getter (besides the handle)."""
    table: dict[str, list[tuple[Any, ...]]] = {
        "nvmlDeviceGetClockInfo": [(c,) for c in CLOCKS],
        "nvmlDeviceGetMaxClockInfo": [(c,) for c in CLOCKS],
        "nvmlDeviceGetApplicationsClock": [(c,) for c in CLOCKS],
        "nvmlDeviceGetDefaultApplicationsClock": [(c,) for c in CLOCKS],
        "nvmlDeviceGetMaxCustomerBoostClock": [(c,) for c in CLOCKS],
        "nvmlDeviceGetClock": [(c, i) for c in CLOCKS for i in CLOCK_IDS],
        "nvmlDeviceGetMinMaxClockOfPState": [(c, p) for c in (0, 2) for p in (0, 8)],
        "nvmlDeviceGetTemperatureThreshold": [(t,) for t in THRESHOLDS],
        "nvmlDeviceGetTemperature": [(0,)],
        "nvmlDeviceGetFanSpeed_v2": [(0,)],
        "nvmlDeviceGetTargetFanSpeed": [(0,)],
        "nvmlDeviceGetFanSpeedRPM": [(0,)],
        "nvmlDeviceGetFanControlPolicy_v2": [(0,)],
        "nvmlDeviceGetThermalSettings": [(0,), (15,)],
        "nvmlDeviceGetViolationStatus": [(p,) for p in PERF_POLICIES],
        "nvmlDeviceGetSamples": [(s, 0) for s in SAMPLE_TYPES],
        "nvmlDeviceGetInforomVersion": [(o,) for o in INFOROM_OBJECTS],
        "nvmlDeviceGetNvLinkState": [(link,) for link in LINKS],
        "nvmlDeviceGetNvLinkVersion": [(link,) for link in LINKS],
        "nvmlDeviceGetNvLinkRemotePciInfo": [(link,) for link in LINKS[:2]],
        "nvmlDeviceGetNvLinkRemoteDeviceType": [(link,) for link in LINKS[:2]],
        "nvmlDeviceGetNvLinkCapability": [(link, cap) for link in LINKS[:1] for cap in range(6)],
        "nvmlDeviceGetNvLinkErrorCounter": [(0, c) for c in range(5)],
        "nvmlDeviceGetPcieThroughput": [(0,), (1,)],
        "nvmlDeviceGetTopologyCommonAncestor": [(handle,)],
        "nvmlDeviceGetTopologyNearestGpus": [(0,), (50,)],
        "nvmlDeviceGetP2PStatus": [(handle, i) for i in range(7)],
        "nvmlDeviceGetCpuAffinity": [(4,)],
        "nvmlDeviceGetCpuAffinityWithinScope": [(4, 0), (4, 1)],
        "nvmlDeviceGetMemoryAffinity": [(4, 0)],
        "nvmlDeviceGetTotalEccErrors": [(e, c) for e in (0, 1) for c in (0, 1)],
        "nvmlDeviceGetDetailedEccErrors": [(e, c) for e in (0, 1) for c in (0, 1)],
        "nvmlDeviceGetMemoryErrorCounter": [(e, c, loc) for e in (0, 1) for c in (0, 1) for loc in range(3)],
        "nvmlDeviceGetRetiredPages": [(0,), (1,)],
        "nvmlDeviceGetRetiredPages_v2": [(0,), (1,)],
        "nvmlDeviceGetEncoderCapacity": [(0,), (1,)],
        "nvmlDeviceGetAPIRestriction": [(0,), (1,)],
        "nvmlDeviceGetProcessUtilization": [(0,)],
        "nvmlDeviceGetVgpuUtilization": [(0,)],
        "nvmlDeviceGetAccountingStats": [(1,)],
    }
    if name == "nvmlDeviceGetSupportedGraphicsClocks":
        try:
            memory = pynvml.nvmlDeviceGetSupportedMemoryClocks(handle)
            return [(memory[0],)] if memory else [(0,)]
        except Exception:
            return [(0,)]
    return table.get(name, [()])


def jsonable(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return repr(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value[:64]]
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, ctypes.Array):
        return [jsonable(v, depth + 1) for v in list(value)[:64]]
    if isinstance(value, ctypes.Structure | ctypes.Union):
        return {f[0]: jsonable(getattr(value, f[0]), depth + 1) for f in value._fields_}
    if isinstance(value, ctypes._SimpleCData):
        return jsonable(value.value, depth + 1)
    if hasattr(value, "__dict__"):
        return {k: jsonable(v, depth + 1) for k, v in vars(value).items() if not k.startswith("_")}
    return repr(value)


def error_name(exc: BaseException, pynvml: Any) -> str:
    if isinstance(exc, pynvml.NVMLError):
        return f"NVMLError:{type(exc).__name__}:{exc.value}"
    return f"{type(exc).__name__}:{exc}"[:300]


def handles(pynvml: Any, index: int) -> list[tuple[str, Any]]:
    """The GPU's handle and, where MIG is on, its MIG device handles."""
    gpu = pynvml.nvmlDeviceGetHandleByIndex(index)
    found = [(f"gpu{index}", gpu)]
    try:
        current, _ = pynvml.nvmlDeviceGetMigMode(gpu)
    except pynvml.NVMLError:
        current = 0
    if current:
        for mig in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(gpu)):
            try:
                found.append((f"gpu{index}/mig{mig}", pynvml.nvmlDeviceGetMigDeviceHandleByIndex(gpu, mig)))
            except pynvml.NVMLError:
                break
    return found


def child(index: int, out: Path, skip: set[str]) -> None:
    import pynvml

    pynvml.nvmlInit()
    with (out / f"calls-{index}.jsonl").open("a") as log:
        def emit(record: dict[str, Any]) -> None:
            log.write(json.dumps(record) + "\n")
            log.flush()

        if index == 0:
            for name in sorted(n for n in dir(pynvml) if n.startswith("nvmlSystemGet")):
                call_once(pynvml, emit, skip, "system", name, getattr(pynvml, name), [()])
            for args in [(0,), (1,)]:
                call_once(pynvml, emit, skip, "system", "nvmlSystemGetTopologyGpuSet",
                          pynvml.nvmlSystemGetTopologyGpuSet, [args])
        for where, handle in handles(pynvml, index):
            for name in sorted(n for n in dir(pynvml) if n.startswith("nvmlDeviceGet") and n not in SKIP):
                fn = getattr(pynvml, name)
                call_once(pynvml, emit, skip, where, name, fn,
                          [(handle, *extra) for extra in extra_args(name, pynvml, handle)])
            probe_fields(pynvml, handle, where, out)
            if where == f"gpu{index}":
                probe_struct_writes(pynvml, handle, where, out)


def call_once(pynvml: Any, emit: Any, skip: set[str], where: str, name: str, fn: Any,
              arg_sets: list[tuple[Any, ...]]) -> None:
    for args in arg_sets:
        key = f"{where}|{name}|{json.dumps(jsonable(args[1:]) if args else [])}"
        if key in skip:
            continue
        emit({"start": key})
        record: dict[str, Any] = {"where": where, "call": name,
                                  "args": jsonable(args[1:]) if where != "system" else jsonable(args)}
        began = time.monotonic()
        try:
            params = inspect.signature(fn).parameters
            required = [p for p in params.values() if p.default is inspect.Parameter.empty
                        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            call_args = args + (0,) * max(0, len(required) - len(args))
            record["value"] = jsonable(fn(*call_args))
        except Exception as exc:  # the point is to record every kind of answer
            record["error"] = error_name(exc, pynvml)
        record["ms"] = round((time.monotonic() - began) * 1000, 3)
        emit(record)


def probe_fields(pynvml: Any, handle: Any, where: str, out: Path) -> None:
    ids = sorted({(getattr(pynvml, n), n) for n in dir(pynvml) if n.startswith("NVML_FI_")
                  and isinstance(getattr(pynvml, n), int) and 0 < getattr(pynvml, n) < 1000})
    with (out / "fields.jsonl").open("a") as log:
        for field_id, name in ids:
            record: dict[str, Any] = {"where": where, "field": name, "id": field_id}
            try:
                value = pynvml.nvmlDeviceGetFieldValues(handle, [field_id])[0]
                record["nvmlReturn"] = value.nvmlReturn
                if value.nvmlReturn == 0:
                    record["valueType"] = value.valueType
                    record["value"] = jsonable(value.value)
            except Exception as exc:
                record["error"] = error_name(exc, pynvml)
            log.write(json.dumps(record) + "\n")


def probe_struct_writes(pynvml: Any, handle: Any, where: str, out: Path) -> None:
    """Bytes each entry point writes: the buffer is 512 guard bytes; the last one changed tells."""
    lib = pynvml.nvmlLib
    results: dict[str, Any] = {}

    def written(symbol: str, version_word: int | None = None, count: bool = False) -> None:
        try:
            fn = getattr(lib, symbol)
        except AttributeError:
            results[symbol] = "absent"
            return
        buf = (ctypes.c_ubyte * 512)(*([0xAB] * 512))
        if version_word is not None:
            ctypes.c_uint.from_buffer(buf).value = version_word
        before = bytes(buf)
        if count:
            n = ctypes.c_uint(4)
            rc = fn(handle, ctypes.byref(n), buf)
            extra = {"count": n.value}
        else:
            rc = fn(handle, buf)
            extra = {}
        changed = [i for i in range(512) if buf[i] != before[i]]
        results[symbol + ("" if version_word is None else f"@v{version_word >> 24}")] = {
            "rc": rc, "last_written_byte": (max(changed) + 1) if changed else 0, **extra}

    for symbol in ("nvmlDeviceGetPciInfo", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo_v3",
                   "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetBAR1MemoryInfo", "nvmlDeviceGetUtilizationRates"):
        written(symbol)
    written("nvmlDeviceGetMemoryInfo_v2", version_word=40 | (2 << 24))
    written("nvmlDeviceGetMarginTemperature", version_word=8 | (1 << 24))
    for symbol in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetComputeRunningProcesses_v2",
                   "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v3"):
        written(symbol, count=True)
    path = out / "struct_writes.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[where] = results
    path.write_text(json.dumps(data, indent=1))


def parent(out: Path, timeout: float) -> int:
    import pynvml

    out.mkdir(parents=True, exist_ok=True)
    pynvml.nvmlInit()
    count = pynvml.nvmlDeviceGetCount()
    pynvml.nvmlShutdown()
    crashed: list[str] = []
    deadline = time.monotonic() + timeout
    for index in range(count):
        skip: set[str] = set()
        for _attempt in range(20):
            log = out / f"calls-{index}.jsonl"
            skip |= done_keys(log)
            proc = subprocess.run([sys.executable, __file__, "--child", str(index), "--out", str(out),
                                   "--skip", json.dumps(sorted(skip))],
                                  timeout=max(5.0, deadline - time.monotonic()))
            if proc.returncode == 0:
                break
            last = last_started(log)
            crashed.append(f"gpu{index}: {last} (exit {proc.returncode})")
            print(f"probe: child crashed in {last} (exit {proc.returncode}); resuming", flush=True)
            if last:
                skip.add(last)
    (out / "crashes.txt").write_text("\n".join(crashed) + "\n")
    summarize(out)
    return 0


def done_keys(log: Path) -> set[str]:
    if not log.exists():
        return set()
    keys = set()
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if "start" in record:
            keys.add(record["start"])
    return keys


def last_started(log: Path) -> str | None:
    if not log.exists():
        return None
    last = None
    for line in log.read_text().splitlines():
        record = json.loads(line)
        last = record.get("start", last)
    return last


def summarize(out: Path) -> None:
    lines = []
    for log in sorted(out.glob("calls-*.jsonl")):
        records = [json.loads(x) for x in log.read_text().splitlines()]
        answers = [r for r in records if "start" not in r]
        ok = sum("value" in r for r in answers)
        lines.append(f"{log.name}: {len(answers)} calls, {ok} with a value")
        errors = collections.Counter(
            r["error"].split(":")[1] if r["error"].startswith("NVMLError") else "python"
            for r in answers if "error" in r)
        lines.append("  errors: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())))
    fields = out / "fields.jsonl"
    if fields.exists():
        records = [json.loads(x) for x in fields.read_text().splitlines()]
        supported = sum(r.get("nvmlReturn") == 0 for r in records)
        lines.append(f"fields: {len(records)} probed, {supported} supported")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    # One file to carry back: machines that lend a GPU return only a few files.
    with tarfile.open(out / "probe.tar.gz", "w:gz") as archive:
        for path in sorted(out.iterdir()):
            if path.name != "probe.tar.gz":
                archive.add(path, arcname=path.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds for the whole probe")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="[]", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.out, set(json.loads(args.skip)))
        return 0
    return parent(args.out, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
