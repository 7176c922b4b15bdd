"""Notebook 10's self-check quiz: right, wrong and missing answers get the feedback they deserve."""
import pytest

from course_lib.checks.quiz import QUESTIONS, grade_quiz


def test_the_right_answers_are_right_and_a_wrong_one_is_wrong(capsys):
    answers = {key: question.answer for key, question in QUESTIONS.items()}
    assert set(grade_quiz(answers).values()) == {"right"}
    first, question = next(iter(QUESTIONS.items()))
    wrong = next(choice[0] for choice in question.choices if choice[0] != question.answer)
    assert grade_quiz({**answers, first: wrong})[first] == "wrong"
    assert question.why in capsys.readouterr().out  # the explanation is shown once answered


def test_unanswered_questions_are_reported_as_such():
    assert set(grade_quiz({}, verbose=False).values()) == {"unanswered"}
    assert set(grade_quiz({key: None for key in QUESTIONS}, verbose=False).values()) == {"unanswered"}


def test_an_unknown_question_is_refused_by_name():
    with pytest.raises(ValueError, match="q99"):
        grade_quiz({"q99": "a"})
