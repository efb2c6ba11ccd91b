"""Alertmanager webhook payloads (version 4): strict validation before anything is decided.

An invalid notification is answered 400 and nothing in it is acted on, not even its valid alerts:
a sender that produces malformed payloads is not one whose partial content should kill processes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

# Alertmanager renders Go's time.Time as RFC 3339 with up to nine fractional digits.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_STATUSES = ("firing", "resolved")


class PayloadError(ValueError):
    """Why a notification was rejected, in one line (it goes into the 400 answer and the audit log)."""


@dataclass(frozen=True)
class Alert:
    status: str
    labels: dict[str, str]
    starts_at: str
    fingerprint: str

    @property
    def identity(self) -> str:
        """One firing episode of one alert: repeats and HA duplicates share it; a new episode does not."""
        return f"{self.fingerprint}@{self.starts_at}"


@dataclass(frozen=True)
class Notification:
    status: str
    receiver: str
    group_key: str
    alerts: tuple[Alert, ...]


def _labels(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PayloadError(f"{path} must be an object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{path}.{key} must be a string")
    return value


def _fingerprint(labels: dict[str, str]) -> str:
    # Alertmanager always sends one; this stands in for senders that do not, stable across repeats.
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _alert(value: Any, index: int) -> Alert:
    path = f"alerts[{index}]"
    if not isinstance(value, dict):
        raise PayloadError(f"{path} must be an object")
    status = value.get("status")
    if status not in _STATUSES:
        raise PayloadError(f"{path}.status must be firing or resolved")
    labels = _labels(value.get("labels"), f"{path}.labels")
    if "annotations" in value and value["annotations"] is not None:
        _labels(value["annotations"], f"{path}.annotations")
    starts_at = value.get("startsAt")
    if not isinstance(starts_at, str) or not _RFC3339.match(starts_at):
        raise PayloadError(f"{path}.startsAt must be an RFC 3339 time")
    ends_at = value.get("endsAt")
    if ends_at is not None and (not isinstance(ends_at, str) or not _RFC3339.match(ends_at)):
        raise PayloadError(f"{path}.endsAt must be an RFC 3339 time")
    fingerprint = value.get("fingerprint")
    if fingerprint is None or fingerprint == "":
        fingerprint = _fingerprint(labels)
    elif not isinstance(fingerprint, str) or len(fingerprint) > 128:
        raise PayloadError(f"{path}.fingerprint must be a string")
    return Alert(status=status, labels=dict(labels), starts_at=starts_at, fingerprint=fingerprint)


def parse_notification(body: bytes) -> Notification:
    """Decode and validate one webhook body; raises PayloadError with the first problem found."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise PayloadError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    if data.get("version") != "4":
        raise PayloadError('version must be "4" (Alertmanager webhook)')
    status = data.get("status")
    if status not in _STATUSES:
        raise PayloadError("status must be firing or resolved")
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts must be a list")
    receiver = data.get("receiver", "")
    group_key = data.get("groupKey", "")
    if not isinstance(receiver, str) or not isinstance(group_key, str):
        raise PayloadError("receiver and groupKey must be strings")
    parsed = tuple(_alert(alert, index) for index, alert in enumerate(alerts))
    return Notification(status=status, receiver=receiver, group_key=group_key, alerts=parsed)
