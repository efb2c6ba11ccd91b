"""The `gpuguard` command: one subcommand per component.

Each component owns its flags in its own `cli` module with `main(argv) -> int`; this module only
dispatches, and imports a component lazily so that `gpuguard sim ...` never pays for the exporter.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("gpuguard.simulator.cli", "simulated GPU node: exec, node, workload, set, fault, status"),
    "exporter": ("gpuguard.exporter.cli", "serve DCGM-compatible GPU metrics from NVML"),
    "actions": ("gpuguard.actions.cli", "Alertmanager webhook receiver: fan boost, power cap, kill"),
    "demo": ("gpuguard.demo", "run the overheat incident end to end on a simulated node"),
}


def usage() -> str:
    lines = ["usage: gpuguard COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10}{summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run 'gpuguard COMMAND --help' for a command's flags."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] == "--version":
        from gpuguard import __version__

        print(f"gpuguard {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"gpuguard: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(command[0])
    try:
        return int(module.main(args[1:]) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
