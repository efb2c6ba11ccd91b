"""Signalling workloads through pidfds, so a PID recycled between decision and signal is never hit.

A pidfd names one process for its whole life: once the process exits, signalling the pidfd fails
with ESRCH even if another process has since been given the same number. The receiver opens the
pidfd first and only then confirms (with NVML) that the process it names is the one on the hot GPU.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import signal
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProcessInfo:
    """What protections match on: only what the process's owner cannot set (not comm or argv[0])."""

    pid: int
    exe: str  # /proc/PID/exe, resolved ("" when unreadable)
    exe_trusted: bool  # the executable and its folder are root's and writable by nobody else
    uid: int
    user: str
    cgroups: tuple[str, ...]


@dataclass
class Target:
    pid: int
    fd: int
    info: ProcessInfo | None = None


@dataclass
class KillOutcome:
    terminated: list[int] = field(default_factory=list)  # exited within the grace period
    killed: list[int] = field(default_factory=list)  # exited after SIGKILL
    survivors: list[int] = field(default_factory=list)  # still alive after SIGKILL


def _proc(pid: int, name: str) -> bytes:
    with open(f"/proc/{pid}/{name}", "rb") as file:
        return file.read()


def read_process(pid: int) -> ProcessInfo | None:
    """What the protections match on; None when the process is gone."""
    try:
        status = _proc(pid, "status").decode(errors="replace").splitlines()
        uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
        cgroup_lines = _proc(pid, "cgroup").decode(errors="replace").splitlines()
    except (OSError, StopIteration, ValueError):
        return None
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:  # a kernel thread, or gone
        exe = ""
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    cgroups = tuple(line.split(":", 2)[2] for line in cgroup_lines if line.count(":") >= 2)
    return ProcessInfo(pid=pid, exe=exe, exe_trusted=bool(exe) and _root_only(exe), uid=uid, user=user,
                       cgroups=cgroups)


def _root_only(path: str) -> bool:
    """The file and every folder above it belong to root and only root may write them: no other
    user could have put an executable at this path."""
    current = path
    while True:
        try:
            st = os.lstat(current)
        except OSError:
            return False
        if st.st_uid != 0 or st.st_mode & 0o022:
            # A sticky world-writable folder (/tmp) still lets anyone add files: not root-only either.
            return False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent


def never_touch() -> dict[int, str]:
    """PIDs that are never signalled, whatever NVML says: init, this receiver, and its parent."""
    return {1: "init", os.getpid(): "receiver", os.getppid(): "receiver_parent"}


def protection(info: ProcessInfo, executables: frozenset[str], names: frozenset[str],
               users: frozenset[str], cgroups: tuple[str, ...]) -> str | None:
    """Why the policy protects this process, or None.

    `executables` are absolute paths of /proc/PID/exe; `names` (the deprecated `process_names`) match
    the executable's file name, and only when no user but root could have placed that file.
    """
    if info.exe and info.exe in executables:
        return f"executable {info.exe}"
    if info.exe_trusted and os.path.basename(info.exe) in names:
        return f"executable {info.exe} (process_names)"
    if info.user in users or str(info.uid) in users:
        return f"user {info.user}"
    for path in info.cgroups:
        for protected in cgroups:
            prefix = protected.rstrip("/")
            if path == prefix or path.startswith(prefix + "/"):
                return f"cgroup {path}"
    return None


def open_target(pid: int) -> Target | None:
    """A pidfd on `pid`, or None if no such process exists now."""
    try:
        return Target(pid=pid, fd=os.pidfd_open(pid))
    except ProcessLookupError:
        return None


def close(targets: list[Target]) -> None:
    for target in targets:
        with contextlib.suppress(OSError):
            os.close(target.fd)


def has_exited(target: Target) -> bool:
    """A pidfd polls readable once its process has exited (reaped or not)."""
    poller = select.poll()
    poller.register(target.fd, select.POLLIN)
    return bool(poller.poll(0))


def send(target: Target, signum: int) -> bool:
    """Signal through the pidfd; False when the process it names has already exited."""
    try:
        signal.pidfd_send_signal(target.fd, signum)
        return True
    except ProcessLookupError:
        return False


def _wait_exit(targets: list[Target], timeout: float) -> list[Target]:
    """Wait up to `timeout` for the targets to exit; returns those still alive."""
    deadline = time.monotonic() + timeout
    alive = [t for t in targets if not has_exited(t)]
    while alive:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        poller = select.poll()
        for target in alive:
            poller.register(target.fd, select.POLLIN)
        poller.poll(max(1, int(remaining * 1000)))
        alive = [t for t in alive if not has_exited(t)]
    return alive


def terminate(targets: list[Target], grace_seconds: float, kill_wait_seconds: float = 5.0) -> KillOutcome:
    """SIGTERM, wait up to the grace period, SIGKILL whoever is left, and say who survived."""
    outcome = KillOutcome()
    for target in targets:
        send(target, signal.SIGTERM)
    stubborn = _wait_exit(targets, grace_seconds)
    outcome.terminated = [t.pid for t in targets if t not in stubborn]
    for target in stubborn:
        send(target, signal.SIGKILL)
    survivors = _wait_exit(stubborn, kill_wait_seconds)
    outcome.killed = [t.pid for t in stubborn if t not in survivors]
    outcome.survivors = [t.pid for t in survivors]
    return outcome
