"""One epoch of training, and an evaluation, of a classifier on precomputed log-mel features. Cancellation is
checked at every batch boundary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from modelyard.frameworks.cancel import CancelSwitch
from modelyard.plugins.audio.data import Split
from modelyard.plugins.audio.metrics import accuracy, confusion, macro_f1


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    batch: int,
    config: Mapping[str, Any],
    epoch: int,
    device: torch.device,
    switch: CancelSwitch,
) -> tuple[float, float]:
    """One pass over the training clips in an order fixed by (seed, epoch); mean loss and accuracy."""
    model.train()
    count = len(split)
    generator = torch.Generator().manual_seed(int(config["seed"]) * 1_000_003 + epoch)
    order = torch.randperm(count, generator=generator)
    features, labels = torch.from_numpy(split.features), torch.from_numpy(split.labels)
    total_loss, correct = 0.0, 0
    for start in range(0, count, batch):
        switch.check()
        index = order[start : start + batch]
        x, y = features[index].to(device), labels[index].to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        total_loss += float(loss.item()) * len(index)
        correct += int((logits.argmax(dim=1) == y).sum().item())
    return total_loss / count, correct / count


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    macro_f1: float
    confusion: list[list[int]]

    def details(self, class_names: Sequence[str]) -> dict[str, Any]:
        """The report of evaluation.json: overall figures, the confusion matrix, per-class precision/recall/F1."""
        per_class = []
        for index, name in enumerate(class_names):
            tp = self.confusion[index][index]
            predicted = sum(row[index] for row in self.confusion)
            actual = sum(self.confusion[index])
            precision = tp / predicted if predicted else 0.0
            recall = tp / actual if actual else 0.0
            f1 = 2 * tp / (predicted + actual) if predicted + actual else 0.0
            per_class.append({"name": name, "precision": precision, "recall": recall, "f1": f1, "support": actual})
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "val_loss": self.loss,
            "class_names": list(class_names),
            "confusion": self.confusion,
            "per_class": per_class,
        }


def evaluate(
    model: torch.nn.Module, split: Split, batch: int, classes: int, device: torch.device, switch: CancelSwitch
) -> Evaluation:
    """Mean cross-entropy, accuracy, macro F1 and confusion matrix of the model on `split` (eval mode)."""
    model.eval()
    features, labels = torch.from_numpy(split.features), torch.from_numpy(split.labels)
    total_loss, predictions = 0.0, []
    with torch.no_grad():
        for start in range(0, len(split), batch):
            switch.check()
            x, y = features[start : start + batch].to(device), labels[start : start + batch].to(device)
            logits = model(x)
            total_loss += float(functional.cross_entropy(logits, y, reduction="sum").item())
            predictions.append(logits.argmax(dim=1).cpu().numpy())
    predicted = np.concatenate(predictions).astype(np.int64)
    matrix = confusion(split.labels, predicted, classes)
    return Evaluation(
        loss=total_loss / len(split),
        accuracy=accuracy(matrix),
        macro_f1=macro_f1(matrix),
        confusion=matrix.tolist(),
    )
