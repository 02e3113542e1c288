"""WDPO: ``trl.DPOTrainer`` with per-example dataset weights (Fair-PP's weighted DPO, TRL issue #5613).

Drop-in: add a ``weight`` column to the preference dataset and swap ``DPOTrainer`` for ``WeightedDPOTrainer``.

How the weights get in (TRL 1.16, no TRL source copied or rewritten):

* TRL builds each loss type's per-sequence loss inline and reduces it with ``.mean()``. The one per-sequence
  multiplicative hook before that mean is its WPO weighting: when ``use_weighting`` is on, every per-sequence
  loss is multiplied by ``exp(mean_t(log_probs - log_sum_sq_probs))`` of the chosen and rejected rows, computed
  without gradient from the model output. The trainer hands TRL a model output whose ``log_sum_sq_probs`` makes
  that factor the normalised example weight ``c_i`` (times the user's own WPO factor when ``use_weighting`` is on),
  so ``mean(c_i * l_i)`` is the weighted objective for every per-sequence loss type, in value and gradient.
* The ``"sft"`` loss type is a token mean over the batch (no per-sequence term), so it is taken out of TRL's loop
  and computed here as the weight-weighted token NLL.
* ``c_i`` is normalised over the whole optimizer step (all micro-batches of the accumulation, all ranks), and the
  returned loss is already scaled for gradient accumulation (``Trainer.loss_is_scaled_for_ga``).
* A guard checks on every step that TRL read the weights; if a TRL change bypasses the hook the trainer raises
  instead of training unweighted.

At w = 1 losses and gradients equal ``DPOTrainer``'s; with gradient accumulation the ``"sft"`` term pools tokens over
the optimizer step where TRL averages per micro-batch, so mixes with ``"sft"`` match TRL only at accumulation 1.
Evaluation normalises within each eval batch. The logged reward/logps metrics stay TRL's unweighted means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from trl import DPOConfig, DPOTrainer
from trl.trainer.utils import FusedCausalLMOutput

from ._weighting import (
    NORMALIZATIONS,
    WeightedTrainerMixin,
    check_normalization,
    default_output_dir,
    safe_ratio,
    weight_column_arg,
)

#: Loss types whose per-example weights are undefined: they sort log-ratios across the batch.
UNWEIGHTABLE_LOSS_TYPES: frozenset[str] = frozenset({"aot", "aot_unpaired"})


def _is_unweightable(loss_type: str) -> bool:
    return loss_type in UNWEIGHTABLE_LOSS_TYPES or loss_type.startswith("aot")


#: Loss types TRL 1.16 cannot multiply by per-sequence weights: its in-place weighting of the ReLU output breaks
#: autograd (TRL's own ``use_weighting=True`` fails the same way with "hinge").
HOOK_UNSUPPORTED_LOSS_TYPES: frozenset[str] = frozenset({"hinge"})


def check_weightable_loss_types(loss_types: list[str] | str) -> None:
    """Refuse loss types for which a per-example weight has no meaning (``aot*``) or cannot be applied (``hinge``)."""
    loss_types = [loss_types] if isinstance(loss_types, str) else list(loss_types)
    bad = [t for t in loss_types if _is_unweightable(t)]
    if bad:
        raise ValueError(
            f"loss_type {bad} cannot be weighted per example: the 'aot*' losses sort log-ratios across the batch, "
            "so an example's loss is not its own. Use another loss type, or weight_column=None to train unweighted."
        )
    unsupported = [t for t in loss_types if t in HOOK_UNSUPPORTED_LOSS_TYPES]
    if unsupported:
        raise ValueError(
            f"loss_type {unsupported} cannot be weighted per example with trl 1.16: TRL's per-sequence weighting "
            "modifies the ReLU output in place, which breaks its backward (TRL's own use_weighting=True fails "
            "alike). Use e.g. 'sigmoid' or 'ipo', or weight_column=None to train unweighted."
        )


@dataclass
class WeightedDPOConfig(DPOConfig):
    r"""
    Configuration for [`WeightedDPOTrainer`]: every [`trl.DPOConfig`] parameter, plus:

    Parameters:
        weight_column (`str` or `None`, *optional*, defaults to `"weight"`):
            Dataset column holding one non-negative finite weight per example (Fair-PP's Eq. 1 weights from
            `fairpp_hf.build_pairs`, or any other source). `None` trains unweighted, exactly like `DPOTrainer`.
        weight_normalization (`str`, *optional*, defaults to `"weighted_mean"`):
            `"weighted_mean"`: the loss is sum(w * l) / sum(w) (the Fair-PP paper's reduction), so scaling all
            weights changes nothing. `"mean"`: the loss is mean(w * l). Either way the sums run over the whole
            optimizer step (every micro-batch of the gradient accumulation and every rank).
    """

    weight_column: str | None = field(
        default="weight",
        metadata={
            "help": "Dataset column with one non-negative finite weight per example; None trains unweighted "
            "(identical to DPOTrainer)."
        },
    )
    weight_normalization: str = field(
        default="weighted_mean",
        metadata={
            "help": "How weighted losses are reduced over an optimizer step: 'weighted_mean' = sum(w*l)/sum(w) "
            "(Fair-PP), 'mean' = mean(w*l).",
            "choices": list(NORMALIZATIONS),
        },
    )

    def __post_init__(self):
        super().__post_init__()
        self.weight_column = weight_column_arg(self.weight_column)
        check_normalization(self.weight_normalization)
        if self.weight_column is not None:
            check_weightable_loss_types(self.loss_type)


class _TrackedOutput(FusedCausalLMOutput):
    """A fused LM-head output that records whether TRL read ``log_sum_sq_probs`` (the weighting hook)."""

    def __getattribute__(self, name: str):
        if name == "log_sum_sq_probs":
            object.__setattr__(self, "_weights_read", True)
        return super().__getattribute__(name)

    def __getitem__(self, key):
        if key == "log_sum_sq_probs":
            object.__setattr__(self, "_weights_read", True)
        return super().__getitem__(key)


class _WeightedForward:
    """Stands in for the model inside ``DPOTrainer._compute_loss``: forwards the call, then sets
    ``log_sum_sq_probs`` on the output so TRL's per-sequence factor equals ``scale`` (chosen rows)."""

    def __init__(self, model, scale: torch.Tensor, user_wpo: bool):
        self._model = model
        self._scale = scale  # (batch,) float64, >= 0
        self._user_wpo = user_wpo
        self.outputs: _TrackedOutput | None = None

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def __call__(self, *args, **kwargs):
        outputs = self._model(*args, **kwargs)
        if not kwargs.get("fused_lm_head"):
            return outputs
        log_probs = outputs.log_probs
        mask = outputs.label_mask
        wide = torch.float32 if log_probs.device.type == "mps" else torch.float64
        base = outputs.log_sum_sq_probs if self._user_wpo else log_probs
        base = base.detach().to(wide)
        n = self._scale.numel()
        log_scale = torch.zeros(log_probs.size(0), 1, dtype=wide, device=log_probs.device)
        log_scale[:n, 0] = torch.log(self._scale.to(device=log_probs.device, dtype=wide))  # log(0) = -inf: weight 0
        # On completion tokens, log_probs - log_sum_sq_probs = log(scale) (+ the WPO term); zero elsewhere.
        lss = torch.where(mask, base - log_scale, base)
        fields = {k: v for k, v in outputs.items()}
        fields["log_sum_sq_probs"] = lss
        tracked = _TrackedOutput(**fields)
        object.__setattr__(tracked, "_weights_read", False)
        self.outputs = tracked
        return tracked


class WeightedDPOTrainer(WeightedTrainerMixin, DPOTrainer):
    """``trl.DPOTrainer`` with per-example weights from a dataset column (WDPO); same constructor, same use.

    The logged ``loss`` is the weighted objective. With all weights 1 the losses and gradients equal
    ``DPOTrainer``'s. Works with a given or implicit reference model, ``precompute_ref_log_probs``,
    ``peft_config``, ``IterableDataset``, evaluation, and loss-type mixes such as ``["sigmoid", "sft"]``; the
    ``aot*`` losses (weights undefined) and ``hinge`` (TRL's in-place weighting breaks its backward) are refused.
    A plain ``DPOConfig`` is accepted and uses ``weight_column="weight"``, ``weight_normalization="weighted_mean"``.
    """

    _tag_names = ["trl", "dpo", "wdpo", "fairpp-hf"]

    def __init__(
        self,
        model: Any,
        ref_model: Any = None,
        args: DPOConfig | None = None,
        data_collator: Any = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        compute_metrics: Any = None,
        callbacks: Any = None,
        optimizers: tuple = (None, None),
        quantization_config: Any = None,
        peft_config: Any = None,
    ):
        if args is None:
            args = WeightedDPOConfig(default_output_dir(model, "WDPO"))
        self._read_weight_args(args)
        if self.weight_column is not None:
            check_weightable_loss_types(args.loss_type)
        train_dataset, eval_dataset, size = self._validate_weighted_datasets(train_dataset, eval_dataset)
        super().__init__(
            model=model, ref_model=ref_model, args=args, data_collator=data_collator, train_dataset=train_dataset,
            eval_dataset=eval_dataset, processing_class=processing_class, compute_metrics=compute_metrics,
            callbacks=callbacks, optimizers=optimizers, quantization_config=quantization_config,
            peft_config=peft_config,
        )
        if self.weight_column is None:
            return
        self._install_weighting(size)
        # Route the per-sequence factor through TRL's WPO hook; remember whether the user wants WPO as well.
        self._user_wpo = bool(self.use_weighting)
        self.use_weighting = True
        # "sft" is a batch token mean in TRL, not a per-sequence loss: computed here instead.
        pairs = list(zip(self.loss_types, self.loss_weights, strict=True))
        self._sft_weight = sum(float(lw) for t, lw in pairs if t == "sft")
        self._has_sft = any(t == "sft" for t, _ in pairs)
        self.loss_types = [t for t, _ in pairs if t != "sft"]
        self.loss_weights = [lw for t, lw in pairs if t != "sft"]

    # ---- data plumbing -------------------------------------------------------------------------------

    def _chosen_token_counts(self, batch: dict, w: torch.Tensor) -> list[torch.Tensor]:
        """Weighted and plain counts of chosen completion tokens (the ``sft`` term's denominators)."""
        n = batch["completion_mask"][..., 1:].chunk(2, dim=0)[0].sum(dim=1).to(torch.float64)
        return [(w * n).sum(), n.sum()]

    def compute_ref_log_probs(self, model, inputs):
        """TRL's reference pass (used by ``precompute_ref_log_probs``), without the weight reaching the model."""
        if self.weight_column is not None and self.weight_column in inputs:
            inputs = {k: v for k, v in inputs.items() if k != self.weight_column}
        return super().compute_ref_log_probs(model, inputs)

    def _step_extra(self):
        """With an ``"sft"`` term the step totals also carry the chosen token counts."""
        return self._chosen_token_counts if self._has_sft else None

    # ---- loss ----------------------------------------------------------------------------------------

    def _normalizers(self, w: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None, float, int]:
        """(step denominator, sft denominator, rank factor, accumulation steps) for this micro-batch."""
        totals, ranks, ga = self._totals(w, batch)
        weighted = self.weight_normalization == "weighted_mean"
        denom = totals[0] if weighted else totals[1]
        sft_denom = (totals[2] if weighted else totals[3]) if self._has_sft else None
        return denom, sft_denom, ranks, ga

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The weighted DPO loss of one micro-batch, scaled so the optimizer step sees sum(w*l)/sum(w)."""
        if self.weight_column is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs, w = self._pop_weights(inputs)
        denom, sft_denom, ranks, ga = self._normalizers(w, inputs)
        batch = w.numel()
        # mean_i(c_i * l_i) over the micro-batch == ranks * sum_i w_i l_i / denom
        scale = safe_ratio(w * (batch * ranks), denom)
        wrapper = _WeightedForward(model, scale, self._user_wpo)
        result = super().compute_loss(wrapper, inputs, return_outputs, num_items_in_batch)
        loss, outputs = result if return_outputs else (result, None)
        fused = wrapper.outputs
        if fused is None:
            raise RuntimeError(
                "WeightedDPOTrainer: DPOTrainer._compute_loss did not call the model with fused_lm_head=True; this "
                "TRL version is not supported (tested: trl>=1.16,<1.17). Refusing to train unweighted."
            )
        if self.loss_types and not object.__getattribute__(fused, "_weights_read"):
            raise RuntimeError(
                "WeightedDPOTrainer: DPOTrainer no longer applies per-sequence weights through log_sum_sq_probs; "
                "this TRL version is not supported (tested: trl>=1.16,<1.17). Refusing to train unweighted."
            )
        if not torch.is_tensor(loss):  # only "sft" requested: TRL's loop was empty
            loss = torch.zeros((), device=w.device, dtype=fused.log_probs.dtype)
        if self._has_sft:
            loss = loss + self._sft_weight * self._sft_term(fused, inputs, w, sft_denom, ranks)
        if self.aux_loss_enabled and ga > 1:
            # TRL adds the MoE aux loss once per micro-batch; Trainer no longer divides by GA, so do it here.
            loss = loss - self.router_aux_loss_coef * fused.aux_loss * (1.0 - 1.0 / ga)
        return (loss, outputs) if return_outputs else loss

    def _sft_term(self, fused, inputs, w, sft_denom, ranks) -> torch.Tensor:
        """Weighted token NLL of the chosen completions: ranks * sum_i w_i * NLL_i(summed) / sum_i w_i n_i."""
        shift_mask = inputs["completion_mask"][..., 1:]
        seq_len = shift_mask.size(1)
        chosen_logps, _ = fused.log_probs[:, -seq_len:].chunk(2, dim=0)
        chosen_mask, _ = shift_mask.chunk(2, dim=0)
        nll = -(chosen_logps * chosen_mask).sum(dim=1)
        coef = safe_ratio(w * ranks, sft_denom).to(nll.dtype)
        return (coef * nll).sum()
