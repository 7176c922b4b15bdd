"""nbgrader grades every assignment end to end, with its default (strict) settings.

One scratch course folder holds every notebook of ``solutions/`` as an assignment's source. nbgrader
generates the student versions, then autogrades three submissions of each assignment:

* ``reference``: the solution itself, which must get every autograded point and run without an error;
* the untouched student version, fetched and submitted as it is (by the user running the tests), which must get 0;
* ``one_mistake``: the solution with one named mistake planted, which must lose exactly the points of
  the cell that checks that mistake, and no other.

The whole pipeline runs once per test session (about 100 s on 2 cores in fast mode) through nbgrader's
own command line, as the README's "For instructors" section tells an instructor to run it.
"""
from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
ASSIGNMENTS = sorted(path.stem for path in SOLUTIONS.glob("*.ipynb"))
UNTOUCHED = getpass.getuser()  # the student who fetches the release and submits it as it is
STUDENTS = ("reference", UNTOUCHED, "one_mistake")

# assignment -> (the solution's line, the planted mistake, the grade_id of the test cell that must catch it)
ONE_MISTAKE = {
    "01_cnn_assignment": ("return (size - 1) * stride - 2 * padding + kernel_size",
                          "return (size - 1) * stride - padding + kernel_size",  # padding removed on one side only
                          "test_conv_transpose_output_size"),
    "02_gan_objective_assignment": ("return 0.5 * (real_scores - 1).pow(2).mean() + 0.5 * fake_scores.pow(2).mean()",
                                    "return 0.5 * real_scores.pow(2).mean() + 0.5 * (fake_scores - 1).pow(2).mean()",
                                    "test_lsgan_losses"),  # the targets swapped
    "03_gan_losses_assignment": ("d_loss = discriminator_loss(D(real), D(fake.detach()))",
                                 "d_loss = discriminator_loss(D(real), D(fake))",  # no detach
                                 "test_gan_step_losses"),
    "04_vae_assignment": ("return mu + torch.exp(0.5 * logvar) * eps",
                          "return mu + torch.exp(logvar) * eps",  # the variance where the std belongs
                          "test_reparameterize"),
    "05_iwae_assignment": ("return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)",
                           "return -0.5 * (logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)",  # no constant: cancels in L_k
                           "test_log_normal"),
    "06_conditional_assignment": ("fake_logits = discriminator(torch.cat([inputs, fake.detach()], dim=1))",
                                  "fake_logits = discriminator(torch.cat([inputs, fake], dim=1))",  # no detach
                                  "test_pix2pix_discriminator_loss"),
    "10_evaluation_assignment": ("floor = fid_from_features(features(heldout[:n]), features(heldout[n:2 * n]))",
                                 "floor = fid_from_features(features(heldout[:len(heldout) // 2]), "
                                 "features(heldout[len(heldout) // 2:]))",  # a floor of another sample size
                                 "test_evaluate_samples"),
    "11_diffusion_assignment": ("return mean if t == 1 else mean + beta.sqrt() * noise",
                                "return mean if t == 1 else mean + beta * noise",  # the variance where the std belongs
                                "test_ddpm_step"),
    "09_enhancement_assignment": ("return 10 * torch.log10(1 / mse)",
                                  "return 20 * torch.log10(1 / mse)",  # 20 log10 belongs to the RMSE
                                  "test_psnr"),
    "07_pix2pix_assignment": ("field += (kernel - 1) * jump",
                              "field += kernel * jump",  # the centre pixel counted again by every layer
                              "test_receptive_field"),
    "08_style_assignment": ("total = total + w * F.mse_loss(gram_matrix(g), gram_matrix(s))",
                            "total = total + F.mse_loss(gram_matrix(g), gram_matrix(s))",  # the layer weights left out
                            "test_style_loss"),
}

CONFIG = """c = get_config()
c.CourseDirectory.course_id = "pixels-from-noise"
c.CourseDirectory.db_url = {db_url!r}
c.Exchange.root = {exchange!r}
c.ExecutePreprocessor.timeout = 600
c.ExecutePreprocessor.shutdown_kernel = "immediate"
"""


def nbgrader(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run nbgrader's command line in a folder; fail the test with its output when it fails."""
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT),  # nbgrader runs `alembic` from PATH
                               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])})
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def plant_mistake(notebook_path: Path, assignment: str) -> str:
    line, mistake, _ = ONE_MISTAKE[assignment]
    text = notebook_path.read_text(encoding="utf-8")
    assert json.dumps(line)[1:-1] in text, f"{assignment}: the line to break is no longer in the solution: {line}"
    return text.replace(json.dumps(line)[1:-1], json.dumps(mistake)[1:-1])


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder after nbgrader graded every assignment (see the module docstring).

    The first assignment travels the whole way the README's "For instructors" section describes:
    generate, release, fetch and submit (as a student, in another folder), collect, autograde,
    feedback, export. The other assignments' untouched submissions are copied from release/.
    """
    course, student, exchange = (tmp_path_factory.mktemp(name) for name in ("course", "student", "exchange"))
    config = CONFIG.format(db_url=f"sqlite:///{course / 'gradebook.db'}", exchange=str(exchange))
    for folder in (course, student):
        (folder / "nbgrader_config.py").write_text(config)
    for assignment in ASSIGNMENTS:
        (course / "source" / assignment).mkdir(parents=True)
        shutil.copy(SOLUTIONS / f"{assignment}.ipynb", course / "source" / assignment)
    nbgrader(course, "generate_assignment", "*", "--force")

    first = ASSIGNMENTS[0]
    nbgrader(course, "release_assignment", first)
    nbgrader(student, "fetch_assignment", "--course", "pixels-from-noise", first)
    nbgrader(student, "submit", "--course", "pixels-from-noise", first)
    nbgrader(course, "collect", first)

    for assignment in ASSIGNMENTS:
        notebook = f"{assignment}.ipynb"
        submissions = {name: course / "submitted" / name / assignment for name in STUDENTS}
        for folder in submissions.values():
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(SOLUTIONS / notebook, submissions["reference"] / notebook)
        if assignment != first:
            shutil.copy(course / "release" / assignment / notebook, submissions[UNTOUCHED] / notebook)
        (submissions["one_mistake"] / notebook).write_text(plant_mistake(SOLUTIONS / notebook, assignment),
                                                           encoding="utf-8")
    nbgrader(course, "autograde", "*", "--force")
    nbgrader(course, "generate_feedback", first, "--force")  # the one that travelled the whole way
    nbgrader(course, "export")
    return course


def autograded_scores(course: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    """grade_id -> (score, max score) of every autograded cell of one submission."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(assignment, assignment, student)
        return {grade.name: (grade.score, grade.max_score) for grade in submission.grades
                if grade.cell.cell_type == "code"}


def test_the_readme_configures_nbgrader_as_this_test_does():
    """The grading settings of the README's nbgrader_config.py are the ones this pipeline runs with."""
    block = (ROOT / "README.md").read_text().split("cat > nbgrader_config.py <<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    readme = {line.split("#")[0].strip() for line in block.splitlines() if line.startswith("c.ExecutePreprocessor")}
    assert readme and readme <= {line.strip() for line in CONFIG.splitlines()}, readme


def test_every_assignment_has_all_three_kinds_of_graded_cell():
    for assignment in ASSIGNMENTS:
        cells = nbformat.read(SOLUTIONS / f"{assignment}.ipynb", as_version=4).cells
        roles = [cell.metadata.get("nbgrader", {}) for cell in cells]
        assert all(roles), f"{assignment}: every cell carries nbgrader metadata (python3 tasks.py exercises)"
        assert any(r["solution"] and not r["grade"] for r in roles), f"{assignment}: no solution cell"
        assert any(r["grade"] and r["locked"] and r["points"] > 0 for r in roles), f"{assignment}: no autograded cell"
        assert any(r["grade"] and r["solution"] and r["points"] > 0 for r in roles), f"{assignment}: no answer cell"


def test_every_assignment_has_a_planted_mistake_in_this_spec():
    assert sorted(ONE_MISTAKE) == ASSIGNMENTS


LECTURES = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                  if path.stem[:2] not in ("00", "99"))
SHARED_ASSIGNMENT = {"12": "11"}  # flow matching is graded with diffusion (assignment 11, Exercise 6)


def test_every_lecture_notebook_has_an_assignment():
    numbers = {name[:2] for name in ASSIGNMENTS}
    missing = [lecture for lecture in LECTURES if SHARED_ASSIGNMENT.get(lecture[:2], lecture[:2]) not in numbers]
    assert missing == []


def test_every_assignment_trains_a_model_with_the_students_own_code():
    """Each assignment has a graded "train it" cell (grade_id test_train...) worth at least 2 points."""
    for assignment in ASSIGNMENTS:
        cells = nbformat.read(SOLUTIONS / f"{assignment}.ipynb", as_version=4).cells
        train_cells = [cell.metadata.nbgrader for cell in cells
                       if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_train")]
        assert len(train_cells) == 1 and train_cells[0]["points"] >= 2, assignment


def test_the_released_student_version_is_the_one_in_exercises(course):
    for assignment in ASSIGNMENTS:
        released = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        ours = nbformat.read(ROOT / "exercises" / f"{assignment}.ipynb", as_version=4)
        assert [c.source for c in released.cells] == [c.source for c in ours.cells], assignment


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_solution_gets_every_autograded_point_and_runs_without_error(course, assignment):
    scores = autograded_scores(course, assignment, "reference")
    assert scores and all(score == maximum > 0 for score, maximum in scores.values()), scores
    graded = nbformat.read(course / "autograded" / "reference" / assignment / f"{assignment}.ipynb", as_version=4)
    errors = [cell.source[:80] for cell in graded.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_untouched_student_version_scores_zero(course, assignment):
    scores = autograded_scores(course, assignment, UNTOUCHED)
    assert scores and all(score == 0 for score, _ in scores.values()), scores


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_one_named_mistake_loses_exactly_the_points_of_the_cell_that_checks_it(course, assignment):
    scores = autograded_scores(course, assignment, "one_mistake")
    catching_cell = ONE_MISTAKE[assignment][2]
    assert scores[catching_cell][0] == 0, f"{catching_cell} did not catch the planted mistake"
    lost = {name for name, (score, maximum) in scores.items() if score < maximum}
    assert lost == {catching_cell}


def test_feedback_and_the_grades_table_reach_the_instructor(course):
    first = ASSIGNMENTS[0]
    assert (course / "feedback" / UNTOUCHED / first / f"{first}.html").exists()
    grades = (course / "grades.csv").read_text().splitlines()
    assert grades[0].startswith("assignment,") and len(grades) == 1 + len(ASSIGNMENTS) * len(STUDENTS)
