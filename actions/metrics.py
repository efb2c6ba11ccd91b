"""The receiver's own metrics, on its /metrics. Every series is documented by its HELP text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

NOTIFICATION_STATUSES = ("accepted", "invalid", "too_large", "unauthorized", "method_not_allowed")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.notifications = Counter(
            "gpuguard_actions_notifications_total",
            "Webhook notifications received, by how they were answered: accepted (2xx), invalid (400), "
            "too_large (413), unauthorized (401), method_not_allowed (405).",
            ["status"], registry=self.registry)
        self.actions = Counter(
            "gpuguard_actions_total",
            "Decisions taken on alerts and by the failsafe, by action (fan_boost, power_cap, "
            "kill_workloads, fan_restore, power_restore) and result (applied, restored, killed, "
            "survivors, duplicate, dry_run, refused reasons such as not_this_node, unknown_gpu, "
            "protected, rate_limited, not_supported, failed).",
            ["action", "result"], registry=self.registry)
        self.overrides = Gauge(
            "gpuguard_actions_overrides_active",
            "Overrides in force on this node's GPUs, by action (fan_boost, power_cap).",
            ["action"], registry=self.registry)
        self.failsafe = Gauge(
            "gpuguard_actions_failsafe_active",
            "1 while the local failsafe is engaged because the Watchdog heartbeat is silent, else 0.",
            registry=self.registry)
        self.last_heartbeat = Gauge(
            "gpuguard_actions_last_heartbeat_timestamp_seconds",
            "Unix time of the last Watchdog heartbeat notification accepted (0: none since start).",
            registry=self.registry)
        self.auth_failures = Counter(
            "gpuguard_actions_auth_failures_total",
            "Requests to /alerts refused for missing or wrong credentials.",
            registry=self.registry)
        self.health = Gauge(
            "gpuguard_actions_health_ok",
            "1 while a check passes, 0 while it fails (then /health answers 503): decisions and failsafe "
            "(the loop is alive and making progress), nvml (the driver answers), state (the state file "
            "can be saved), audit (the audit log can be written).",
            ["check"], registry=self.registry)
        self.http_connections_open = Gauge(
            "gpuguard_actions_http_connections_open",
            "HTTP connections open now.", registry=self.registry)
        self.connection_limit = Gauge(
            "gpuguard_actions_http_connections_limit",
            "Most HTTP connections held at once (--max-connections, lowered to fit the file limit).",
            registry=self.registry)
        self.http_connections_closed = Counter(
            "gpuguard_actions_http_connections_shed_total",
            "HTTP connections closed by the receiver, by reason: shed_cap (the oldest idle one, to make "
            "room), header_timeout, body_timeout, idle_timeout; accept_error counts failed accept() calls.",
            ["reason"], registry=self.registry)
        for reason in ("shed_cap", "header_timeout", "body_timeout", "idle_timeout", "accept_error"):
            self.http_connections_closed.labels(reason)
        for status in NOTIFICATION_STATUSES:
            self.notifications.labels(status)
        for action in ("fan_boost", "power_cap"):
            self.overrides.labels(action)

    def render(self) -> bytes:
        return generate_latest(self.registry)
