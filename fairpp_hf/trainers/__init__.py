"""TRL trainer subclasses: weighted DPO/SFT (Fair-PP WDPO) and the Pareto-teacher DPO trainer."""

from .weighted_dpo import WeightedDPOConfig, WeightedDPOTrainer
from .weighted_sft import WeightedSFTConfig, WeightedSFTTrainer

__all__ = ["WeightedDPOConfig", "WeightedDPOTrainer", "WeightedSFTConfig", "WeightedSFTTrainer"]
