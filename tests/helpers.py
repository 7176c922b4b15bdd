"""Assertions shared by several specs (imported as ``from helpers import ...``: pytest puts tests/ on the path)."""


def assert_names_the_mistake(result, mistake):
    """A check run on a planted mistake fails, diagnoses it by the mistake's name and gives the mistake's message."""
    assert not result.passed, f"the check passed the planted mistake {mistake.name!r}"
    assert result.diagnosis == mistake.name, (mistake.name, result.diagnosis, result.message)
    assert result.message == mistake.message, (mistake.name, result.message, mistake.message)
