"""The step and boxed-answer conventions shared by policies, PRMs and datasets."""

import pytest

from ponder.data import STEP_SEPARATOR, extract_boxed, split_steps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so $x = \boxed{5}$.", "5"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\boxed{\sqrt{\frac{a^{2}}{b_{1}}}} is it", r"\sqrt{\frac{a^{2}}{b_{1}}}"),
        # The last box is the final answer, whatever came before.
        (r"first \boxed{3}, then \boxed{4}. Finally \boxed{\text{(B)}}", r"\text{(B)}"),
        (r"MATH also writes \fbox{12}", "12"),
        (r"\boxed {7}", "7"),
        # Escaped braces are content, not structure.
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\boxed{a \\ b}", r"a \\ b"),
        (r"\boxed{}", ""),
    ],
)
def test_extract_boxed(text: str, expected: str) -> None:
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "text",
    ["The answer is 5.", "", r"\boxed 5", r"a \boxed{\frac{1}{2} cut off by the token limit"],
)
def test_extract_boxed_without_a_complete_box(text: str) -> None:
    assert extract_boxed(text) is None


def test_an_unclosed_last_box_falls_back_to_the_last_complete_one() -> None:
    assert extract_boxed(r"\boxed{3} and then \boxed{4") == "3"


def test_split_steps() -> None:
    text = "Step one.\n\nStep two\nstill two.\n\n\n\n  \n\nStep three: \\boxed{3}\n\n"
    assert split_steps(text) == ["Step one.", "Step two\nstill two.", "Step three: \\boxed{3}"]
    assert (
        STEP_SEPARATOR.join(split_steps(text))
        == "Step one.\n\nStep two\nstill two.\n\nStep three: \\boxed{3}"
    )
    assert split_steps("   \n\n  ") == []
