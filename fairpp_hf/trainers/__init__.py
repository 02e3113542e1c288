"""TRL trainer subclasses: weighted DPO/SFT (Fair-PP WDPO) and the Pareto-teacher DPO trainer."""
