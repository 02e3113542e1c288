"""Weighted SFT: ``trl.SFTTrainer`` where each example's token-averaged NLL carries a dataset weight.

The Fair-PP pipeline's weighted SFT stage (before WDPO). The loss of an optimizer step is
sum_i w_i * mean_t NLL_it / sum_i w_i (``"weighted_mean"``) or the same numerator over the number of examples
(``"mean"``), with sums over every micro-batch of the accumulation and every rank. Note that this per-example
average differs from stock ``SFTTrainer``'s token-pooled loss even at w = 1 (long examples do not count more).

TRL's own forward and metrics are kept: the trainer lets ``SFTTrainer.compute_loss`` run on the fused LM head,
captures its per-token log-probabilities, and returns its own weighted reduction of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer

from ._weighting import (
    NORMALIZATIONS,
    WeightCollator,
    check_normalization,
    data_parallel_size,
    ensure_signature_column,
    reduce_step_totals,
    report_dropped,
    safe_ratio,
    validate_eval_datasets,
    validate_weight_column,
)


@dataclass
class WeightedSFTConfig(SFTConfig):
    r"""
    Configuration for [`WeightedSFTTrainer`]: every [`trl.SFTConfig`] parameter, plus:

    Parameters:
        weight_column (`str` or `None`, *optional*, defaults to `"weight"`):
            Dataset column holding one non-negative finite weight per example (e.g. from `fairpp_hf.build_sft`).
            `None` trains unweighted, exactly like `SFTTrainer`.
        weight_normalization (`str`, *optional*, defaults to `"weighted_mean"`):
            `"weighted_mean"`: sum(w * l) / sum(w); `"mean"`: mean(w * l); l is an example's token-averaged NLL and
            the sums run over the whole optimizer step (all micro-batches and ranks).
    """

    weight_column: str | None = field(
        default="weight",
        metadata={
            "help": "Dataset column with one non-negative finite weight per example; None trains unweighted "
            "(identical to SFTTrainer)."
        },
    )
    weight_normalization: str = field(
        default="weighted_mean",
        metadata={
            "help": "How weighted per-example losses are reduced over an optimizer step: 'weighted_mean' = "
            "sum(w*l)/sum(w), 'mean' = mean(w*l).",
            "choices": list(NORMALIZATIONS),
        },
    )

    def __post_init__(self):
        super().__post_init__()
        check_normalization(self.weight_normalization)
        if self.weight_column is not None:
            _check_sft_args(self)


def _check_sft_args(args) -> None:
    """Refuse SFT settings under which a row is not one example or the loss bypasses the fused log-probs."""
    if getattr(args, "packing", False) or getattr(args, "padding_free", False):
        raise ValueError(
            "weight_column is set but packing/padding_free=True: packed rows mix examples, so per-example weights "
            "are undefined. Set packing=False and padding_free=False, or weight_column=None."
        )
    if getattr(args, "label_smoothing_factor", 0) > 0:
        raise ValueError("weight_column is set but label_smoothing_factor > 0: weighted SFT does not support label smoothing.")


class _CapturingForward:
    """Stands in for the model inside ``SFTTrainer.compute_loss`` and keeps the fused LM-head output."""

    def __init__(self, model):
        self._model = model
        self.outputs = None

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def __call__(self, *args, **kwargs):
        outputs = self._model(*args, **kwargs)
        if kwargs.get("fused_lm_head"):
            self.outputs = outputs
        return outputs


class WeightedSFTTrainer(SFTTrainer):
    """``trl.SFTTrainer`` with per-example weights from a dataset column; same constructor, same use.

    Supports ``loss_type`` "nll" and "dft", LoRA via ``peft_config``, ``IterableDataset`` and evaluation.
    Packing, padding-free batches, label smoothing and ``compute_loss_func`` are refused when weighted.
    """

    _tag_names = ["trl", "sft", "weighted-sft", "fairpp-hf"]

    def __init__(
        self,
        model: Any,
        args: SFTConfig | None = None,
        data_collator: Any = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        compute_loss_func: Any = None,
        compute_metrics: Any = None,
        callbacks: Any = None,
        optimizers: tuple = (None, None),
        optimizer_cls_and_kwargs: Any = None,
        preprocess_logits_for_metrics: Any = None,
        quantization_config: Any = None,
        peft_config: Any = None,
        formatting_func: Any = None,
    ):
        if args is None:
            name = model if isinstance(model, str) else getattr(model.config, "_name_or_path", "model")
            args = WeightedSFTConfig(f"{str(name).rstrip('/').split('/')[-1] or 'model'}-WSFT")
        self.weight_column: str | None = getattr(args, "weight_column", "weight")
        self.weight_normalization: str = check_normalization(getattr(args, "weight_normalization", "weighted_mean"))
        self._step_totals: torch.Tensor | None = None
        size = None
        if self.weight_column is not None:
            _check_sft_args(args)
            if compute_loss_func is not None:
                raise ValueError("weight_column is set: compute_loss_func would bypass the weights; pass one or the other.")
            if train_dataset is None:
                raise ValueError("`train_dataset` is required")
            train_dataset = validate_weight_column(train_dataset, self.weight_column, "train")
            eval_dataset = validate_eval_datasets(eval_dataset, self.weight_column)
            size = len(train_dataset) if hasattr(train_dataset, "__len__") else None
        super().__init__(
            model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
            eval_dataset=eval_dataset, processing_class=processing_class, compute_loss_func=compute_loss_func,
            compute_metrics=compute_metrics, callbacks=callbacks, optimizers=optimizers,
            optimizer_cls_and_kwargs=optimizer_cls_and_kwargs,
            preprocess_logits_for_metrics=preprocess_logits_for_metrics, quantization_config=quantization_config,
            peft_config=peft_config,
            formatting_func=formatting_func,
        )
        if self.weight_column is None:
            return
        report_dropped(size, self.train_dataset, "train")
        self.data_collator = WeightCollator(self.data_collator, self.weight_column)
        ensure_signature_column(self, self.weight_column)
        self.loss_is_scaled_for_ga = True

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        column = getattr(self, "weight_column", None)
        if column is not None and column not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, column]

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        """Prefetch the step's micro-batches (as ``Trainer`` does) and all-reduce their weight totals."""
        batch_samples, num_items_in_batch = super().get_batch_samples(epoch_iterator, num_batches, device)
        if self.weight_column is not None:
            self._step_totals = reduce_step_totals(self, batch_samples, self.weight_column)
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

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """sum_i c_i * token-mean NLL_i over the micro-batch, c_i normalised over the optimizer step."""
        if self.weight_column is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs = dict(inputs)
        if self.weight_column not in inputs:
            raise ValueError(
                f"the batch has no {self.weight_column!r} tensor: the weight column was lost before the loss; "
                "refusing to train unweighted."
            )
        w = inputs.pop(self.weight_column).to(device=inputs["input_ids"].device, dtype=torch.float64)
        wrapper = _CapturingForward(model)
        result = super().compute_loss(wrapper, inputs, return_outputs, num_items_in_batch)
        outputs = result[1] if return_outputs else None
        fused = wrapper.outputs
        if fused is None or (torch.is_grad_enabled() and self.model.training and not fused.log_probs.requires_grad):
            raise RuntimeError(
                "WeightedSFTTrainer: SFTTrainer.compute_loss no longer computes the loss from the fused LM head; this "
                "TRL version is not supported (tested: trl>=1.16,<1.17). Refusing to train unweighted."
            )
        log_probs, mask = fused.log_probs, fused.label_mask
        per_token = -log_probs
        if self.args.loss_type == "dft":
            per_token = per_token * log_probs.exp().detach()
        counts = mask.sum(dim=1)
        per_example = per_token.sum(dim=1) / counts.clamp(min=1).to(per_token.dtype)

        if self.model.training and self._step_totals is not None:
            totals, ranks = self._step_totals, float(data_parallel_size(self))
            ga = int(getattr(self, "current_gradient_accumulation_steps", 1) or 1)
        else:
            totals = torch.stack([w.sum(), torch.tensor(float(w.numel()), dtype=torch.float64, device=w.device)])
            ranks, ga = 1.0, 1
        denom = totals[0] if self.weight_normalization == "weighted_mean" else totals[1]
        coef = safe_ratio(w * ranks, denom).to(per_example.dtype)
        loss = (coef * per_example).sum()
        if self.aux_loss_enabled:
            loss = loss + self.router_aux_loss_coef * fused.aux_loss / ga
        return (loss, outputs) if return_outputs else loss
