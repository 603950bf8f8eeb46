"""Model cards: what each exported model is, what it was trained and scored on, what it costs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

FIRMWARE_MODELS = Path(__file__).resolve().parents[2] / "firmware" / "models"


def export_model(name: str, model: bytes, card: str, folder: Path = FIRMWARE_MODELS) -> Path:
    """Writes `name`.tflite and `name`.md beside it; returns the .tflite path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.tflite"
    path.write_bytes(model)
    (folder / f"{name}.md").write_text(card)
    return path


def card_text(
    title: str,
    sections: Mapping[str, str | Sequence[str]],
    tables: Mapping[str, tuple[Sequence[str], Sequence[Sequence[object]]]] | None = None,
    *,
    model: bytes,
) -> str:
    """Markdown: a title, the model's size and hash, then prose or bullet sections and tables."""
    lines = [f"# {title}", "", f"- file size: {len(model):,} bytes; sha256 {hashlib.sha256(model).hexdigest()[:16]}"]
    for heading, body in sections.items():
        lines += ["", f"## {heading}", ""]
        lines += [body] if isinstance(body, str) else [f"- {item}" for item in body]
    for heading, (header, rows) in (tables or {}).items():
        lines += ["", f"## {heading}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
