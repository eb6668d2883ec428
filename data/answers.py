"""The text conventions every policy, PRM and dataset shares: steps and boxed answers.

Steps are separated by a blank line and the final answer is in `\\boxed{...}`, the
search-and-learn / Llama-3 maths convention that the published PRMs were trained on.
"""

from __future__ import annotations

import re

STEP_SEPARATOR = "\n\n"

# MATH solutions use \boxed; a few use \fbox. Whitespace before the brace is legal LaTeX.
_BOX_OPENING = re.compile(r"\\(?:boxed|fbox)\s*\{")


def extract_boxed(text: str) -> str | None:
    """The content of the last complete `\\boxed{...}` (or `\\fbox{...}`) in `text`, else None.

    Braces are matched, so `\\boxed{\\frac{1}{2}}` gives `\\frac{1}{2}`; escaped braces
    (`\\{`, `\\}`) are content, not structure. A box that never closes (a completion cut off
    at the token limit) is not an answer, so the last box that does close wins.
    """
    for opening in reversed(list(_BOX_OPENING.finditer(text))):
        content = _braced_content(text, opening.end())
        if content is not None:
            return content
    return None


def _braced_content(text: str, start: int) -> str | None:
    """The text from `start` up to the brace that closes the one just before it, or None."""
    depth, i = 1, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2  # skip the escaped character, which may be a brace
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def split_steps(text: str) -> list[str]:
    """The steps of a solution: the blank-line-separated parts, stripped, empty ones dropped."""
    return [step.strip() for step in text.split(STEP_SEPARATOR) if step.strip()]
