"""Learning-rate schedules against torch's own schedulers, early stopping, and the metrics against a count by hand
(and scikit-learn where it is installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelyard.plugins.audio.metrics import accuracy, confusion, macro_f1
from modelyard.plugins.audio.schedule import COSINE_FLOOR, BestTracker, LrSchedule

torch = pytest.importorskip("torch")


def _torch_rates(scheduler_factory: object, epochs: int, losses: list[float] | None = None) -> list[float]:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1)
    scheduler = scheduler_factory(optimizer)  # type: ignore[operator]
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if losses is None:
            scheduler.step()
        else:
            scheduler.step(losses[epoch])
    return rates


def test_warmup_rises_linearly_to_the_peak() -> None:
    schedule = LrSchedule("cosine", lr=0.1, epochs=10, warmup_epochs=3)
    assert [schedule.lr_for(e) for e in (1, 2, 3, 4)] == pytest.approx([0.025, 0.05, 0.075, 0.1])


def test_cosine_after_warmup_is_torchs_cosine_annealing() -> None:
    schedule = LrSchedule("cosine", lr=0.1, epochs=12, warmup_epochs=2)
    ours = [schedule.lr_for(e) for e in range(3, 13)]
    theirs = _torch_rates(
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=9, eta_min=0.1 * COSINE_FLOOR), 10
    )
    assert ours == pytest.approx(theirs, rel=1e-9)
    assert ours[-1] == pytest.approx(0.1 * COSINE_FLOOR)


def test_step_is_torchs_step_lr() -> None:
    schedule = LrSchedule("step", lr=0.1, epochs=20, step_epochs=4, factor=0.5)
    theirs = _torch_rates(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5), 20)
    assert [schedule.lr_for(e) for e in range(1, 21)] == pytest.approx(theirs, rel=1e-9)


def test_plateau_is_torchs_reduce_on_plateau_and_survives_a_checkpoint() -> None:
    losses = [1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89]
    theirs = _torch_rates(
        lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=0.5, patience=2, threshold=0.0, threshold_mode="abs"
        ),
        len(losses),
        losses,
    )
    schedule = LrSchedule("plateau", lr=0.1, epochs=len(losses), factor=0.5, plateau_patience=2)
    ours = []
    for epoch, loss in enumerate(losses, start=1):
        ours.append(schedule.lr_for(epoch))
        if epoch == 6:  # a resumed attempt: a fresh schedule with the saved state
            state = schedule.state_dict()
            schedule = LrSchedule("plateau", lr=0.1, epochs=len(losses), factor=0.5, plateau_patience=2)
            schedule.load_state_dict(state)
        schedule.observe(epoch, loss)
    assert ours == pytest.approx(theirs, rel=1e-9)
    assert min(ours) < 0.1


def test_best_epoch_is_by_accuracy_then_loss_and_patience_stops() -> None:
    tracker = BestTracker(patience=2)
    assert tracker.update(1, 0.5, 1.0)
    assert tracker.update(2, 0.5, 0.9)  # same accuracy, lower loss
    assert not tracker.update(3, 0.4, 0.1)
    assert not tracker.should_stop
    restored = BestTracker(patience=2)
    restored.load_state_dict(tracker.state_dict())
    assert not restored.update(4, 0.5, 0.95)
    assert restored.should_stop and restored.best_epoch == 2
    assert not BestTracker(patience=0).should_stop


def test_unknown_scheduler_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown lr_scheduler 'linear'"):
        LrSchedule("linear", lr=0.1, epochs=3)


TRUE = np.array([0, 0, 1, 1, 1, 2, 2, 3, 0, 1], dtype=np.int64)
PREDICTED = np.array([0, 1, 1, 1, 0, 2, 0, 2, 0, 1], dtype=np.int64)


def test_accuracy_and_macro_f1_match_a_count_by_hand() -> None:
    matrix = confusion(TRUE, PREDICTED, classes=5)
    assert matrix.sum() == 10 and matrix[0, 1] == 1 and matrix[3, 2] == 1
    assert accuracy(matrix) == pytest.approx(sum(t == p for t, p in zip(TRUE, PREDICTED, strict=True)) / 10)
    f1s = []
    for c in sorted(set(TRUE) | set(PREDICTED)):  # class 4 never occurs: left out, as scikit-learn does
        tp = sum(1 for t, p in zip(TRUE, PREDICTED, strict=True) if t == p == c)
        fp = sum(1 for t, p in zip(TRUE, PREDICTED, strict=True) if p == c != t)
        fn = sum(1 for t, p in zip(TRUE, PREDICTED, strict=True) if t == c != p)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    assert macro_f1(matrix) == pytest.approx(sum(f1s) / len(f1s))
    assert math.isclose(macro_f1(confusion(TRUE, TRUE, 4)), 1.0)
    assert accuracy(np.zeros((2, 2), dtype=np.int64)) == 0.0


def test_metrics_match_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    matrix = confusion(TRUE, PREDICTED, classes=4)
    assert accuracy(matrix) == pytest.approx(metrics.accuracy_score(TRUE, PREDICTED))
    assert macro_f1(matrix) == pytest.approx(metrics.f1_score(TRUE, PREDICTED, average="macro", zero_division=0))
