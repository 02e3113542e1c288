"""Fair-PP dataset builder, Hub-ready shell: all logic lives in :mod:`fairpp_hf.builder`.

datasets >= 4 runs no dataset scripts, so use the class (this file only re-exports it)::

    from fairpp_hf import FairPP
    builder = FairPP(config_name="pairs", persona=6, data_files="Fair-PP.csv")
    builder.download_and_prepare()
    ds = builder.as_dataset()

For ``datasets.load_dataset(folder_or_repo, "pairs_persona_6")`` export parquet configs with
``fairpp-hf export-dataset`` (see README.md beside this file).
"""

from fairpp_hf.builder import FairPP, FairPPConfig

__all__ = ["FairPP", "FairPPConfig"]
