"""What a scenario file says about each of its keys, read from its comments, for the report.

The report lists every parameter with its range and source (Appendix B) from the comments of
the scenario and of the policy it names, so the documentation is written once, in the config
files, and the report cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sim.config import policy_path, read_config_text


def parameter_notes(path: str | Path, overrides: Iterable[str] = ()) -> dict[str, str]:
    """What a scenario file (and the policy file it names) says about each key, from its
    comments: ``{"world.scale": "(0, 1]: share of the country simulated, ...", ...}``.

    A key's note is its trailing comment with the indented comment lines that continue it; a key
    without one takes the comment block above it (which also becomes its table's note). This is
    how the report lists every parameter with its range and source without a second copy of the
    documentation.
    """
    import tomlkit
    from tomlkit.container import Container

    path = Path(path)
    notes: dict[str, str] = {}

    def walk(container, prefix: str) -> None:
        block: list[str] = []
        last_key: str | None = None
        body = container.body if isinstance(container, Container) else container.value.body
        for key, item in body:
            kind = type(item).__name__
            if kind == "Whitespace":
                continue
            if kind == "Comment":
                text = item.as_string()
                line = text.strip().lstrip("#").strip()
                if text.startswith((" ", "\t")) and last_key is not None:
                    notes[last_key] = f"{notes.get(last_key, '')} {line}".strip()
                else:
                    if last_key is not None:
                        block, last_key = [], None
                    block.append(line)
                continue
            name = f"{prefix}{str(key).strip()}"
            if kind == "Table":
                if block:
                    notes.setdefault(name, " ".join(block))
                walk(item, f"{name}.")
                block, last_key = [], None
            elif kind == "AoT":
                for i, table in enumerate(item.body):
                    walk(table, f"{name}.{i}.")
            else:
                own = item.trivia.comment.strip().lstrip("#").strip() if getattr(item, "trivia", None) else ""
                notes[name] = own or " ".join(block)
                last_key = name if own else None

    try:
        doc = tomlkit.parse(read_config_text(path, "a scenario"))
    except Exception:   # the file was validated already; notes are a courtesy
        return {}
    walk(doc, "")
    policy = doc.get("policy")
    for item in overrides:
        key, _, value = item.partition("=")
        if key.strip() == "policy":
            policy = value.strip().strip("\"'")
    if isinstance(policy, str) and policy_path(policy, path).is_file():
        try:
            walk(tomlkit.parse(read_config_text(policy_path(policy, path), "a policy file")), "policy.")
        except Exception:
            pass
    return {k: v for k, v in notes.items() if v}


__all__ = ["parameter_notes"]
