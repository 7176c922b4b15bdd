"""exercises/ is generated from solutions/ and must never drift."""
from pathlib import Path

import nbformat
import pytest

from course_lib import _notebooks as exercises

ROOT = Path(__file__).resolve().parents[1]


def test_exercises_folder_is_exactly_what_the_generator_produces():
    stale = exercises.out_of_date(ROOT / "solutions", ROOT / "exercises")
    assert stale == [], f"run `python3 tasks.py exercises`: {stale}"


def test_every_solution_has_solution_markers_and_its_exercise_has_none():
    solutions = sorted((ROOT / "solutions").glob("*.ipynb"))
    assert solutions, "at least one assignment"
    for path in solutions:
        source = path.read_text()
        exercise = (ROOT / "exercises" / path.name).read_text()
        assert exercises.BEGIN in source
        for marker in (exercises.BEGIN, exercises.END, exercises.BEGIN_HIDDEN, exercises.END_HIDDEN):
            assert marker not in exercise, f"{marker} leaked into exercises/{path.name}"
        assert "raise NotImplementedError()" in exercise


def test_solution_code_becomes_a_stub_with_the_same_indentation():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert exercises.strip_solution_code(source) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n")


def test_hidden_tests_disappear():
    source = "r = check(f)\n### BEGIN HIDDEN TESTS\nassert r.passed\n### END HIDDEN TESTS\n"
    assert exercises.strip_solution_code(source) == "r = check(f)\n"


def test_markdown_answers_become_your_answer_here_and_outputs_are_stripped():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
        nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output("stream", text="2")], execution_count=3),
    ])
    exercise = exercises.make_exercise(notebook)
    assert exercise.cells[0].source == "YOUR ANSWER HERE"
    assert exercise.cells[1].outputs == [] and exercise.cells[1].execution_count is None
    assert notebook.cells[1].outputs, "the solution notebook itself is not modified"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
])
def test_unbalanced_markers_are_reported(source, message):
    with pytest.raises(ValueError, match=message):
        exercises.strip_solution_code(source)


def test_generate_check_mode_reports_drift(tmp_path):
    (tmp_path / "solutions").mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    nbformat.write(notebook, tmp_path / "solutions" / "a.ipynb")
    args = ["exercises", "--solutions", str(tmp_path / "solutions"), "--exercises", str(tmp_path / "exercises")]
    assert exercises.main(args + ["--check"]) == 1
    assert exercises.main(args) == 0
    assert exercises.main(args + ["--check"]) == 0


def test_strip_clears_outputs_counts_and_widget_state(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    notebook.cells[0].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    notebook.cells[0].execution_count = 1
    notebook.metadata["widgets"] = {"state": {}}
    nbformat.write(notebook, tmp_path / "a.ipynb")
    exercises.strip(tmp_path)
    stripped = nbformat.read(tmp_path / "a.ipynb", as_version=4)
    assert stripped.cells[0].outputs == [] and stripped.cells[0].execution_count is None
    assert "widgets" not in stripped.metadata and stripped.cells[0].source == "1 + 1"


def test_py2nb_turns_percent_cells_into_markdown_and_code_and_hides_the_colab_cell(tmp_path):
    (tmp_path / "s.py").write_text("# %% [markdown]\n# # Title\n# text\n\n# %%\nimport google.colab\n\n# %%\nx = 1\n")
    exercises.py2nb(tmp_path / "s.py", tmp_path / "s.ipynb")
    cells = nbformat.read(tmp_path / "s.ipynb", as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code"]
    assert cells[0].source == "# Title\ntext" and cells[2].source == "x = 1"
    assert cells[1].metadata["tags"] == ["remove-cell"] and "tags" not in cells[2].metadata
