"""The self-check quiz of notebook 10: questions, and feedback on a student's answers."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QUESTIONS", "grade_quiz"]


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[str, ...]
    answer: str            # the letter of the right choice
    why: str               # shown once answered


QUESTIONS = {
    "q1": Question("Which model gives you a (bound on the) likelihood log p(x) of a held-out image?",
                   ("a) DCGAN", "b) VAE", "c) pix2pix"), "b",
                   "The VAE's ELBO is a lower bound on log p(x); the importance-weighted bound tightens it. "
                   "A GAN defines p_g only implicitly, through samples."),
    "q2": Question("The generator's class histogram puts 40 % of samples on one digit and 0 % on two others. "
                   "What does this show?", ("a) overfitting", "b) mode collapse", "c) a blurry decoder"), "b",
                   "Missing classes are modes of p_data the generator does not cover: mode collapse."),
    "q3": Question("Why are VAE samples typically blurrier than GAN samples?",
                   ("a) the decoder is smaller", "b) the per-pixel likelihood rewards the average of plausible "
                    "images", "c) the KL term adds noise to the pixels"), "b",
                   "A factorised per-pixel likelihood (BCE or Gaussian) is best matched by the conditional mean, "
                   "which averages plausible images: blur. The discriminator penalises blur instead."),
    "q4": Question("A classifier FID of 3.0 is reported with a real-vs-real floor of 2.5 on the same number of "
                   "images. What can you conclude?",
                   ("a) the generator is nearly perfect by this measure", "b) nothing: FID needs Inception features",
                    "c) the samples are memorised"), "a",
                   "FID is biased upwards at finite sample size; the floor shows what real data scores, so 3.0 is "
                   "close to it. (Memorisation needs a nearest-neighbour check.)"),
    "q5": Question("pix2pix adds λ·L1 with λ = 100 to the cGAN loss. What does the L1 term take care of?",
                   ("a) high frequencies", "b) low frequencies: the overall layout and colours",
                    "c) the discriminator's gradients"), "b",
                   "L1 pins down the low frequencies (it blurs on its own); the PatchGAN discriminator takes care "
                   "of high-frequency realism."),
}


def grade_quiz(answers: dict | None, verbose: bool = True) -> dict:
    """Feedback per question: 'right', 'wrong' or 'unanswered'. Answers are letters, e.g. {'q1': 'b'}."""
    if answers is not None and not isinstance(answers, dict):
        raise TypeError(f"answers must be a dict like {{'q1': 'b'}}, got {type(answers).__name__}")
    answers = answers or {}
    unknown = sorted(set(answers) - set(QUESTIONS))
    if unknown:
        raise ValueError(f"unknown question(s) {unknown}; the questions are {sorted(QUESTIONS)}")
    outcome = {}
    for key, question in QUESTIONS.items():
        given = answers.get(key)
        given = given.strip().lower().rstrip(")") if isinstance(given, str) else given
        if given is None:
            outcome[key] = "unanswered"
            line = f"… {key}: not answered yet"
        elif given == question.answer:
            outcome[key] = "right"
            line = f"✅ {key}: right. {question.why}"
        else:
            outcome[key] = "wrong"
            line = f"❌ {key}: not quite ({given!r}); think again about: {question.text}"
        if verbose:
            print(line)
    return outcome
