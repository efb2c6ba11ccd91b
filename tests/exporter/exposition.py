"""Reading /metrics as text, independently of the exporter's code: samples with labels in the
order they were written, and each family's HELP and TYPE."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]  # in written order
    value: float

    @property
    def label(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def label_names(self) -> list[str]:
        return [key for key, _ in self.labels]


@dataclass
class Exposition:
    samples: list[Sample] = field(default_factory=list)
    help: dict[str, str] = field(default_factory=dict)
    type: dict[str, str] = field(default_factory=dict)

    def named(self, name: str, **labels: str) -> list[Sample]:
        return [
            s for s in self.samples if s.name == name and all(s.label.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float | None:
        found = self.named(name, **labels)
        assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
        return found[0].value if found else None

    def names(self) -> set[str]:
        return {s.name for s in self.samples}

    def gpus(self, name: str) -> set[str]:
        return {s.label["gpu"] for s in self.named(name)}


def parse(text: str) -> Exposition:
    out = Exposition()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in out.help, f"second HELP for {name}"
            out.help[name] = help_text.replace("\\n", "\n").replace("\\\\", "\\")
        elif line.startswith("# TYPE "):
            name, _, prom_type = line[7:].partition(" ")
            assert name not in out.type, f"second TYPE for {name}"
            out.type[name] = prom_type
        elif line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, label_text, value = match.groups()
            labels = tuple(
                (key, val.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                for key, val in _LABEL.findall(label_text or "")
            )
            out.samples.append(Sample(name, labels, float(value)))
    return out
