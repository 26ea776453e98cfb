"""The streaming decision format: every turn the assistant says ``</Silence>``, or ``</Response>``
followed by the answer text."""
from __future__ import annotations

SILENCE = "</Silence>"
RESPONSE = "</Response>"


def response(text: str) -> str:
    """The assistant target for a turn that answers with ``text``."""
    return f"{RESPONSE} {text.strip()}"


def parse(output: str) -> str | None:
    """The answer text of a turn's output, or ``None`` when the turn stays silent or is malformed."""
    output = output.strip()
    if output.startswith(RESPONSE):
        text = output[len(RESPONSE):].strip()
        return text or None
    return None


def well_formed(output: str) -> bool:
    """Exactly ``</Silence>``, or ``</Response>`` followed by non-empty text."""
    output = output.strip()
    return output == SILENCE or parse(output) is not None
