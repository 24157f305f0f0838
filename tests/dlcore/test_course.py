"""The course's numbers: the grader's training runs, as the notebooks state them."""

import json

from helpers import REPO

from dlcore.course import GRADER_TARGET_ERRORS, GRADER_TRAINING, GRADER_TRAINING_TEXT, training_text


def test_training_text_says_epochs_or_mini_batches():
    assert training_text(0.001, 10, 600) == "10 epochs of Adam, λ = 0.001"
    assert training_text(0.1, 1, 600) == "1 epoch of Adam, λ = 0.1"
    assert training_text(0.002, 1, 400) == "400 mini-batches (40,000 images, less than one epoch) of Adam, λ = 0.002"
    assert training_text(0.002, 2, 300) == "600 mini-batches (60,000 images) of Adam, λ = 0.002"


def test_every_graded_model_has_a_run_that_fits_in_mnist():
    assert set(GRADER_TRAINING) == set(GRADER_TARGET_ERRORS)
    for run in GRADER_TRAINING.values():
        assert 0 < run["lr"] < 0.1 and run["epochs"] >= 1 and 1 <= run["batches"] <= 600


def test_the_released_notebooks_state_the_graders_runs():
    """The student reads how the grader trains, in the notebook that the target's points belong to."""
    text = {stem: "".join("".join(c["source"]) for c in json.loads((REPO / "notebooks" / f"{stem}.ipynb").read_text())
                          ["cells"] if c["cell_type"] == "markdown") for stem in ("03_training", "04_cnn")}
    for name, stem in (("linear", "03_training"), ("mlp", "03_training"), ("cnn", "04_cnn")):
        flat = " ".join(text[stem].split())
        assert GRADER_TRAINING_TEXT[name] in flat and str(GRADER_TARGET_ERRORS[name]) in flat
