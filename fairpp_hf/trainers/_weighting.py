"""Per-example weight plumbing shared by the weighted TRL trainers.

Three jobs, none of which TRL 1.16 does for a dataset column:

* validate the weight column before training (missing column, NaN, inf, negative: the row is named);
* carry the column through ``remove_unused_columns`` and the collator as a ``(batch,)`` float tensor;
* normalise over the whole optimizer step: the weight (or example) total of every micro-batch of the
  accumulation and every rank is summed once per step, so that 1 process x batch 8, 2 processes x batch 4
  and 1 process x batch 4 x accumulation 2 give the same gradients and the same logged loss.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

logger = logging.getLogger(__name__)

WeightNormalization = Literal["weighted_mean", "mean"]
NORMALIZATIONS: tuple[str, ...] = ("weighted_mean", "mean")


def weight_column_arg(value: str | None) -> str | None:
    """``weight_column`` as given, with the command line's spellings of "no column" ("None", "none", "") as None."""
    return None if value in ("None", "none", "") else value


def check_normalization(value: str) -> str:
    """Return ``value`` if it is a known ``weight_normalization``, else raise naming the argument."""
    if value not in NORMALIZATIONS:
        raise ValueError(f"weight_normalization={value!r} is not supported; expected one of {list(NORMALIZATIONS)}")
    return value


def check_weight_values(values: Any, column: str, dataset_name: str = "train", offset: int = 0) -> np.ndarray:
    """Validate weights (finite, >= 0, present) and return them as float64; raise naming the first bad row.

    ``offset`` is added to reported row indices (for streamed chunks).
    """
    try:
        w = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{dataset_name} dataset: column {column!r} must hold numbers (one weight per example): {err}"
        ) from err
    if w.ndim != 1:
        raise ValueError(f"{dataset_name} dataset: column {column!r} must hold one number per row, got shape {w.shape}")
    problems = (("NaN or missing", np.isnan(w)), ("infinite", np.isinf(w)), ("negative", w < 0))
    for what, bad in problems:
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"{dataset_name} dataset: column {column!r} has a {what} weight at row {int(rows[0]) + offset} "
                f"(value {w[rows[0]]!r}; {len(rows)} such row(s) in all). Weights must be finite and >= 0."
            )
    return w


def _column_names(dataset) -> list[str] | None:
    names = getattr(dataset, "column_names", None)
    if names is None:  # an IterableDataset with unknown features: look at the first example
        try:
            names = list(next(iter(dataset)).keys())
        except StopIteration:
            names = []
    return list(names)


def validate_weight_column(dataset, column: str, dataset_name: str = "train"):
    """Check ``dataset`` has ``column`` with valid weights; return the dataset to train on.

    A map-style ``datasets.Dataset`` is checked in full now (vectorised). An ``IterableDataset`` cannot be
    read ahead, so it gets a lazy check that raises, with the stream row index, before a bad row is batched.
    """
    import datasets

    names = _column_names(dataset)
    if column not in names:
        raise ValueError(
            f"{dataset_name} dataset has no weight column {column!r} (columns: {names}). Add one (e.g. "
            "fairpp_hf.build_pairs adds 'weight'), pass weight_column=<name>, or weight_column=None to train unweighted."
        )
    if isinstance(dataset, datasets.Dataset):
        check_weight_values(dataset.with_format("numpy", columns=[column])[column], column, dataset_name)
        return dataset
    if isinstance(dataset, datasets.IterableDataset):

        def _check(example, idx):
            check_weight_values([example[column]], column, dataset_name, offset=idx)
            return example

        return dataset.map(_check, with_indices=True)
    raise TypeError(f"{dataset_name} dataset must be a datasets.Dataset or IterableDataset, got {type(dataset).__name__}")


def validate_eval_datasets(eval_dataset, column: str):
    """Apply :func:`validate_weight_column` to an eval dataset or a dict of them."""
    if eval_dataset is None:
        return None
    if isinstance(eval_dataset, dict):
        return {k: validate_weight_column(v, column, f"eval[{k!r}]") for k, v in eval_dataset.items()}
    return validate_weight_column(eval_dataset, column, "eval")


@dataclass
class WeightCollator:
    """Wrap a TRL collator: take ``column`` out of each example and return it as ``batch[column]`` (float64).

    The inner collator never sees the weight, so it cannot pass ``weight=`` into the model's forward
    (which would silently ignore it).
    """

    inner: Any
    column: str

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        weights = []
        stripped = []
        for example in examples:
            if self.column not in example:
                raise ValueError(f"an example reached the collator without its weight column {self.column!r}")
            example = dict(example)
            weights.append(example.pop(self.column))
            stripped.append(example)
        batch = self.inner(stripped)
        w = check_weight_values(weights, self.column, "batch")
        batch[self.column] = torch.from_numpy(w)
        return batch


def reduce_step_totals(trainer, batch_samples: list[dict], column: str, extra=None):
    """Sum, over the micro-batches of one optimizer step and over every rank, ``[sum(w), count, *extra]``.

    ``extra(batch, w)`` may return more per-batch float64 sums (e.g. token counts). Returns a float64 tensor
    on the trainer's device (one all-reduce per optimizer step).
    """
    import torch

    local = None
    for batch in batch_samples:
        if column not in batch:
            raise ValueError(
                f"a training batch has no {column!r} tensor (keys: {sorted(batch)}): the weight column was lost "
                "before the loss (a custom data_collator?); refusing to train unweighted."
            )
        w = batch[column].to(torch.float64)
        parts = [w.sum(), torch.tensor(float(w.numel()), dtype=torch.float64)]
        if extra is not None:
            parts += [p.to(torch.float64) for p in extra(batch, w)]
        row = torch.stack([p.cpu() for p in parts])
        local = row if local is None else local + row
    if local is None:
        return None
    local = local.to(trainer.args.device)
    if trainer.accelerator.num_processes > 1:
        local = trainer.accelerator.reduce(local, reduction="sum")
    return local


def data_parallel_size(trainer) -> int:
    """Number of ranks whose gradients are averaged (DDP / FSDP / DeepSpeed data parallel)."""
    return int(trainer.accelerator.num_processes)


def safe_ratio(num, den):
    """``num / den`` with 0 where ``den == 0`` (an all-zero-weight step contributes nothing, never NaN)."""
    import torch

    den = torch.as_tensor(den, dtype=torch.float64)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num))


def report_dropped(before: int | None, dataset, name: str) -> None:
    """Log how many rows TRL's preparation dropped (e.g. prompts longer than ``max_length``)."""
    after = len(dataset) if hasattr(dataset, "__len__") else None
    if before is not None and after is not None and after < before:
        logger.warning(
            "%s dataset: %d of %d rows were dropped during tokenization (prompt alone fills max_length); "
            "their weights do not count.", name, before - after, before,
        )


def default_output_dir(model: Any, suffix: str) -> str:
    """``<model name>-<suffix>``, the output folder TRL's trainers default to when ``args`` is None."""
    name = model if isinstance(model, str) else getattr(model.config, "_name_or_path", "model")
    return f"{str(name).rstrip('/').split('/')[-1] or 'model'}-{suffix}"


class WeightedTrainerMixin:
    """What both weighted trainers add around their TRL base (list it first: ``class T(WeightedTrainerMixin, X)``).

    ``__init__`` calls :meth:`_read_weight_args` and :meth:`_validate_weighted_datasets` before the TRL
    constructor and :meth:`_install_weighting` after it; the overrides below keep the column through
    ``remove_unused_columns``, all-reduce the step's weight totals and validate datasets passed to ``evaluate``.
    """

    def _read_weight_args(self, args) -> None:
        """Take the weight settings from ``args`` (a plain TRL config gets ``"weight"`` / ``"weighted_mean"``)."""
        self.weight_column: str | None = getattr(args, "weight_column", "weight")
        self.weight_normalization: str = check_normalization(getattr(args, "weight_normalization", "weighted_mean"))
        self._step_totals = None

    def _validate_weighted_datasets(self, train_dataset, eval_dataset):
        """Validate the weight column of the datasets when weighted.

        Returns ``(train_dataset, eval_dataset, train size or None)``.
        """
        if self.weight_column is None:
            return train_dataset, eval_dataset, None
        if train_dataset is None:
            raise ValueError("`train_dataset` is required")
        train_dataset = validate_weight_column(train_dataset, self.weight_column, "train")
        eval_dataset = validate_eval_datasets(eval_dataset, self.weight_column)
        return train_dataset, eval_dataset, len(train_dataset) if hasattr(train_dataset, "__len__") else None

    def _install_weighting(self, size: int | None) -> None:
        """After the TRL constructor: wrap the collator; the returned loss is already normalised over the step."""
        report_dropped(size, self.train_dataset, "train")
        self.data_collator = WeightCollator(self.data_collator, self.weight_column)
        # The loss we return is normalised over the optimizer step already: Trainer must not divide by GA.
        self.loss_is_scaled_for_ga = True

    def _step_extra(self):
        """Extra per-batch sums for :func:`reduce_step_totals` (None: weight total and count only)."""
        return None

    def _pop_weights(self, inputs) -> tuple[dict, Any]:
        """``(inputs without the weight column, the weights as float64 on the inputs' device)``."""
        import torch

        inputs = dict(inputs)
        if self.weight_column not in inputs:
            raise ValueError(
                f"the batch has no {self.weight_column!r} tensor: the weight column was lost before the loss "
                "(a custom collator or column removal); refusing to train unweighted."
            )
        w = inputs.pop(self.weight_column).to(device=inputs["input_ids"].device, dtype=torch.float64)
        return inputs, w

    def _totals(self, w, batch: dict):
        """``(totals, ranks, accumulation steps)`` that normalise this micro-batch's weights ``w``.

        In a training step: the step's all-reduced ``[sum(w), count, *extra]``, the number of data-parallel
        ranks and the step's accumulation count. Otherwise (evaluation, a call outside the loop): the same
        totals of this batch alone, 1, 1.
        """
        import torch

        if self.model.training and self._step_totals is not None:
            ga = int(getattr(self, "current_gradient_accumulation_steps", 1) or 1)
            return self._step_totals, float(data_parallel_size(self)), ga
        parts = [w.sum(), torch.tensor(float(w.numel()), dtype=torch.float64, device=w.device)]
        extra = self._step_extra()
        if extra is not None:
            parts += extra(batch, w)
        return torch.stack(parts), 1.0, 1

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        column = getattr(self, "weight_column", None)
        if column is not None and column not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, column]

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        """Prefetch the step's micro-batches (as ``Trainer`` does) and all-reduce their weight totals."""
        batch_samples, num_items_in_batch = super().get_batch_samples(epoch_iterator, num_batches, device)
        if self.weight_column is not None:
            self._step_totals = reduce_step_totals(self, batch_samples, self.weight_column, self._step_extra())
        return batch_samples, num_items_in_batch

    def train(self, *args, **kwargs):
        try:
            return super().train(*args, **kwargs)
        finally:
            self._step_totals = None

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        """``Trainer.evaluate``; a dataset passed here has its weight column validated first."""
        if self.weight_column is not None and eval_dataset is not None and not isinstance(eval_dataset, str):
            eval_dataset = validate_eval_datasets(eval_dataset, self.weight_column)
        return super().evaluate(eval_dataset=eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
