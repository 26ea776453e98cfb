"""The streaming decision format: every turn the assistant says ``</Silence>``, or ``</Response>``
followed by the answer text."""
from __future__ import annotations

SILENCE = "</Silence>"
RESPONSE = "</Response>"

SYSTEM_PROMPT = (
    "You are a proactive assistant watching a live video, one frame per second. Each user turn is labelled "
    "with its time span, like <3s-4s>, and shows that second's frame; a question may come with it. After "
    "every turn reply with exactly one of: </Silence> when the event asked about is still unfolding, has not "
    "happened yet, or the input is irrelevant; or </Response> followed by your answer as soon as the event has "
    "concluded or the evidence suffices. Never give a partial answer, never repeat an answer already given, "
    "and start every answer with </Response>."
)


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
