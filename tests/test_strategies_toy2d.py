"""The two-dimensional toy of the OREAL supplementary Fig. 2: per-class batches that miss, and later rounds that
compensate.

Three classes of 2-D points (300, 150 and 60 points, overlapping Gaussian clouds) stand for superpixels; the
"model" is fixed: the Bayes posterior of the three clouds. Each round OREAL asks ITEMSPERCLASS for δ from the
true labels of the points labeled so far, picks each class's batch by one-vs-rest entropy, and the oracle
reveals the true classes.
"""

import numpy as np
import pytest
import torch
from albench_plugins.strategies.oreal import Oreal, OrealParams

from albench.testing import selection_context
from albench.uncertainty import ovr_entropy

CENTRES = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]])
SIZES = [300, 150, 60]
SIGMA = 0.8
Q = 15
ROUNDS = 6


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(c, SIGMA, (n, 2)) for c, n in zip(CENTRES, SIZES)])
    truth = np.repeat(np.arange(3), SIZES)
    log_posterior = np.log(np.array(SIZES) / sum(SIZES)) - ((points[:, None] - CENTRES) ** 2).sum(-1) / (2 * SIGMA**2)
    probs = np.exp(log_posterior - log_posterior.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    scores = ovr_entropy(torch.tensor(probs)).numpy()  # H_c of every point: one pixel per "superpixel"
    initial = rng.choice(len(points), Q, replace=False).tolist()
    return truth, scores, initial


def run_oreal(truth, scores, initial):
    """Every round's δ, the class order, the batches and the labeled counts n."""
    labeled, history = list(initial), []
    for _ in range(ROUNDS):
        context = selection_context(
            num_regions=len(truth),
            num_classes=3,
            budget=Q,
            labeled=labeled,
            labeled_classes=truth[labeled].tolist(),
            region_stats={"class_scores": scores},
        )
        strategy = Oreal(OrealParams())
        delta, order = strategy.allocation(context)
        selected = strategy.select(context)
        batches = dict(zip(order, np.split(selected, np.cumsum([delta[c] for c in order])[:-1])))
        history.append((context.labeled_class_counts.copy(), delta, batches))
        labeled += selected.tolist()
    return history, np.bincount(truth[labeled], minlength=3)


def test_batches_picked_for_a_class_contain_other_classes(toy):
    truth, scores, initial = toy
    history, _ = run_oreal(truth, scores, initial)
    misses = [
        (c, truth[batch].tolist())
        for _, _, batches in history
        for c, batch in batches.items()
        if (truth[batch] != c).any()
    ]
    assert misses, "uncertain points of a class are not always of that class"
    # a batch picked for the head class 0 brings points of class 1 (the supplementary's example, with 0 and 1 swapped)
    assert any(c == 0 and 1 in classes for c, classes in misses)


def test_later_rounds_compensate_the_deviation(toy):
    truth, scores, initial = toy
    history, final = run_oreal(truth, scores, initial)
    deviations = 0
    for (n, delta, _), (n_next, delta_next, _) in zip(history, history[1:]):
        received = n_next - n  # what each class actually got this round
        short = received < delta  # classes whose share went to other classes
        over = received > delta
        if short.any() and over.any():
            # next round, every short-changed class is asked for more than every over-served one
            assert delta_next[short].min() > delta_next[over].max()
            deviations += 1
    assert deviations >= 1  # e.g. round 1: δ = [5, 5, 5] brought [9, 3, 3], so round 2 asks [1, 7, 7]
    # the least represented class always receives the largest share (Algorithm 1)
    for n, delta, _ in history:
        assert delta[np.argmin(n)] == delta.max()
    # in the end the classes are far more balanced than the pool (300 : 150 : 60)
    assert final.sum() == Q * (ROUNDS + 1)
    assert final.min() / final.max() > 0.6  # the pool's ratio is 60 / 300 = 0.2


def test_random_sampling_follows_the_pool_instead(toy):
    truth, _, initial = toy
    rng = np.random.default_rng(1)
    unlabeled = np.setdiff1d(np.arange(len(truth)), initial)
    picked = np.concatenate([initial, rng.choice(unlabeled, Q * ROUNDS, replace=False)])
    counts = np.bincount(truth[picked], minlength=3)
    _, oreal_counts = run_oreal(*toy)
    assert counts[2] < oreal_counts[2] / 2  # the tail class: random labels far fewer of its points
