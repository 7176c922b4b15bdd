"""Assertions shared by several specs (imported as ``from helpers import ...``: pytest puts tests/ on the path)."""


def assert_names_the_mistake(result, mistake):
    """A check run on a planted mistake fails, diagnoses it by the mistake's name and gives the mistake's message."""
    assert not result.passed, f"the check passed the planted mistake {mistake.name!r}"
    assert result.diagnosis == mistake.name, (mistake.name, result.diagnosis, result.message)
    assert result.message == mistake.message, (mistake.name, result.message, mistake.message)


def assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes):
    """The spec every exercise check owes: the reference answer passes as "correct", and each listed mistake
    fails with its own name and message (``assert_names_the_mistake``)."""
    result = check(reference)
    assert result.passed and result.diagnosis == "correct", (check.__name__, result.message)
    for mistake in mistakes:
        assert_names_the_mistake(check(mistake.implementation), mistake)


def train_a_few_steps(model, loss_of_step, steps, lr):
    """Adam on ``model`` for ``steps`` steps of ``loss_of_step(step)`` (a tiny batch, no fit()); the losses, in order."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        loss = loss_of_step(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
