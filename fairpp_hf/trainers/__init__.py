"""TRL trainer subclasses: weighted DPO/SFT (Fair-PP WDPO) and the Pareto-teacher DPO trainer."""

from .pareto_teacher import ParetoTeacherDPOConfig, ParetoTeacherDPOTrainer
from .weighted_dpo import WeightedDPOConfig, WeightedDPOTrainer
from .weighted_sft import WeightedSFTConfig, WeightedSFTTrainer

__all__ = [
    "ParetoTeacherDPOConfig",
    "ParetoTeacherDPOTrainer",
    "WeightedDPOConfig",
    "WeightedDPOTrainer",
    "WeightedSFTConfig",
    "WeightedSFTTrainer",
]
