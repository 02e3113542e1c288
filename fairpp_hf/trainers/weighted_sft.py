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
    WeightedTrainerMixin,
    check_normalization,
    default_output_dir,
    safe_ratio,
    weight_column_arg,
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
        self.weight_column = weight_column_arg(self.weight_column)
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


class WeightedSFTTrainer(WeightedTrainerMixin, SFTTrainer):
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
            args = WeightedSFTConfig(default_output_dir(model, "WSFT"))
        self._read_weight_args(args)
        if self.weight_column is not None:
            _check_sft_args(args)
            if compute_loss_func is not None:
                raise ValueError("weight_column is set: compute_loss_func would bypass the weights; pass one or the other.")
        train_dataset, eval_dataset, size = self._validate_weighted_datasets(train_dataset, eval_dataset)
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
        self._install_weighting(size)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """sum_i c_i * token-mean NLL_i over the micro-batch, c_i normalised over the optimizer step."""
        if self.weight_column is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs, w = self._pop_weights(inputs)
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

        totals, ranks, ga = self._totals(w, inputs)
        denom = totals[0] if self.weight_normalization == "weighted_mean" else totals[1]
        coef = safe_ratio(w * ranks, denom).to(per_example.dtype)
        loss = (coef * per_example).sum()
        if self.aux_loss_enabled:
            loss = loss + self.router_aux_loss_coef * fused.aux_loss / ga
        return (loss, outputs) if return_outputs else loss
