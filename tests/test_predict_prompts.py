"""The lecture notebooks ask students to predict before they run, and lead to the assignments (issue #15).

Every lecture notebook (all of notebooks/ except 00, the start page, and 99, the collection of mistakes) has two
or three "predict, then run" prompts: a markdown cell that asks a question and leaves a line
``*Your prediction:* ...`` for the student, then at least one code cell whose output answers it, then the answer
in a collapsed ``<details><summary>Answer...</summary> ... </details>`` markdown cell. Its closing "What to take
away" cell ends by linking its assignment in exercises/, and notebook 00 lists every assignment.
Only the stored notebooks are read: nothing is executed.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXERCISES = ROOT / "exercises"
NOT_LECTURES = {"00_start_here", "99_common_mistakes"}
LECTURES = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if p.stem not in NOT_LECTURES)

PROMPT = "**Predict, then run.**"
PREDICTION_LINE = re.compile(r"^\*Your prediction:\*", re.MULTILINE)
ANSWER_START = re.compile(r"^<details><summary>Answer\b[^<]*</summary>")
ASSIGNMENT_LINE = re.compile(r"^\*\*Assignment:\*\* \[exercises/(?P<name>[\w.-]+\.ipynb)\]\(\.\./exercises/(?P=name)\)")
EXERCISE_LINK = re.compile(r"\]\(\.\./exercises/([\w.-]+\.ipynb)\)")


def cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of every cell of a stored notebook."""
    return [(cell.cell_type, cell.source) for cell in nbformat.read(path, as_version=4).cells]


def is_prompt(kind: str, source: str) -> bool:
    return kind == "markdown" and PROMPT in source


def is_answer(kind: str, source: str) -> bool:
    return kind == "markdown" and ANSWER_START.match(source.strip()) is not None


def test_the_lecture_notebooks_are_01_to_12_at_least():
    numbers = {int(p.name[:2]) for p in LECTURES}
    assert set(range(1, 13)) <= numbers, sorted(numbers)


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_each_lecture_has_two_or_three_prompts_that_leave_a_line_for_the_prediction(path):
    prompts = [source for kind, source in cells(path) if is_prompt(kind, source)]
    assert 2 <= len(prompts) <= 3, f"{path.name}: {len(prompts)} 'predict, then run' prompts, want 2 or 3"
    for source in prompts:
        assert PREDICTION_LINE.search(source), f"{path.name}: a prompt without a '*Your prediction:* ...' line:\n{source}"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_each_prompt_is_answered_in_a_collapsed_cell_after_the_code_that_shows_it(path):
    notebook = cells(path)
    for index, (kind, source) in enumerate(notebook):
        if not is_prompt(kind, source):
            continue
        following = notebook[index + 1:]
        answer = next((k for k, (kind_, source_) in enumerate(following) if is_answer(kind_, source_)), None)
        assert answer is not None, f"{path.name}: no answer after the prompt\n{source}"
        between = following[:answer]
        assert any(kind_ == "code" for kind_, _ in between), f"{path.name}: no code cell between prompt and answer\n{source}"
        assert not any(is_prompt(*cell) for cell in between), f"{path.name}: two prompts share one answer\n{source}"
        assert following[answer][1].rstrip().endswith("</details>"), f"{path.name}: the answer is not closed"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_answer_belongs_to_a_prompt(path):
    notebook = cells(path)
    answers = [i for i, cell in enumerate(notebook) if is_answer(*cell)]
    prompts = [i for i, cell in enumerate(notebook) if is_prompt(*cell)]
    assert len(answers) == len(prompts), f"{path.name}: {len(prompts)} prompts but {len(answers)} answers"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_the_takeaway_cell_ends_with_a_link_to_an_existing_assignment(path):
    takeaways = [source for kind, source in cells(path)
                 if kind == "markdown" and source.lstrip().startswith("## What to take away")]
    assert takeaways, f"{path.name} has no '## What to take away' cell"
    last_line = takeaways[-1].rstrip().splitlines()[-1]
    link = ASSIGNMENT_LINE.match(last_line)
    assert link, f"{path.name}: the takeaway cell should end with '**Assignment:** [exercises/NN_name.ipynb]" \
                 f"(../exercises/NN_name.ipynb)', it ends with:\n{last_line}"
    assert (EXERCISES / link["name"]).exists(), f"{path.name} links exercises/{link['name']}, which does not exist"


def test_the_start_page_lists_every_assignment_and_only_existing_ones():
    start_page = "\n".join(source for kind, source in cells(NOTEBOOKS / "00_start_here.ipynb") if kind == "markdown")
    linked = set(EXERCISE_LINK.findall(start_page))
    existing = {p.name for p in EXERCISES.glob("*.ipynb")}
    assert existing <= linked, f"00_start_here does not list {sorted(existing - linked)}"
    assert linked <= existing, f"00_start_here links {sorted(linked - existing)}, which do not exist"


def test_every_lectures_assignment_is_on_the_start_page():
    start_page = "\n".join(source for kind, source in cells(NOTEBOOKS / "00_start_here.ipynb") if kind == "markdown")
    listed = set(EXERCISE_LINK.findall(start_page))
    for path in LECTURES:
        for kind, source in cells(path):
            if kind == "markdown":
                for name in re.findall(r"\*\*Assignment:\*\* \[exercises/([\w.-]+\.ipynb)\]", source):
                    assert name in listed, f"{path.name} links {name}, which 00_start_here does not list"
