"""Pareto-guided teacher alignment: teacher revisions -> pair-aware gate -> Pareto selection -> (SFT) -> DPO.

# Teacher behind an OpenAI-compatible endpoint (key from the environment, never the command line), LoRA:
```bash
export TEACHER_API_KEY=...
python trainers/pareto_dpo.py \
    --model_name_or_path meta-llama/Llama-3.2-3B-Instruct \
    --items generations/llama_climate.jsonl \
    --teacher openai --teacher_model gpt-4o-mini --teacher_base_url https://api.openai.com/v1 \
    --teacher_api_key_env TEACHER_API_KEY --teacher_concurrency 16 \
    --teacher_cache outputs/pareto-dpo/teacher_cache.jsonl \
    --num_revisions 4 --gate_tolerance 0.0 --min_fidelity 0.5 --pair_vary gender \
    --agency_lexicon data/agency_power.csv \
    --sft_warm_start --sft_learning_rate 2e-5 \
    --learning_rate 5e-6 --beta 0.1 --num_train_epochs 1 --per_device_train_batch_size 4 \
    --gradient_accumulation_steps 4 --bf16 \
    --use_peft --lora_r 16 --lora_alpha 32 --lora_target_modules q_proj k_proj v_proj o_proj \
    --output_dir outputs/pareto-dpo
```

# Local teacher (a transformers model), on 2 GPUs with accelerate:
```bash
accelerate launch --num_processes 2 trainers/pareto_dpo.py \
    --model_name_or_path google/gemma-2-9b-it \
    --items generations/gemma_climate.jsonl \
    --teacher transformers --teacher_model Qwen/Qwen2.5-7B-Instruct --teacher_batch_size 16 \
    --teacher_cache outputs/gemma-pareto/teacher_cache.jsonl \
    --agency_lexicon data/agency_power.csv \
    --use_peft --lora_r 16 --lora_alpha 32 --output_dir outputs/gemma-pareto
```

# Prebuilt pairs (prompt/chosen/rejected; a local .jsonl/.parquet file, folder or Hub dataset):
```bash
python trainers/pareto_dpo.py --model_name_or_path Qwen/Qwen2.5-0.5B-Instruct \
    --dataset_name outputs/pareto-dpo/teacher_alignment/dpo.jsonl --use_peft --output_dir outputs/from-pairs
```

``--items`` is a CSV/JSONL of base generations with the grid columns (stance, theme, age, gender, region), the
message (``output``/``text``/...), optional ``id`` and ``prompt`` (built from the grid template when absent).
The teacher stage writes candidates, gate verdicts, pairs and a report to ``OUTPUT_DIR/teacher_alignment/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import ModelConfig, ScriptArguments, TrlParser, get_peft_config

from fairpp_hf.trainers.pareto_teacher import ParetoTeacherDPOConfig, ParetoTeacherDPOTrainer

PROMPT_TEMPLATE = ("Generate a {theme} themed message in 50 words encouraging {age}, {gender} from the {region} "
                   "of US to adopt {stance}.")


@dataclass
class TeacherScriptArguments(ScriptArguments):
    """Script arguments: TRL's (``dataset_name`` = prebuilt pairs) plus the base generations and the teacher."""

    dataset_name: str | None = field(default=None, metadata={"help": "Prebuilt pairs: Hub id, folder or file."})
    items: str | None = field(default=None, metadata={"help": "CSV/JSONL of base generations on the grid."})
    text_column: str | None = field(default=None, metadata={"help": "Message column of --items (default: auto)."})
    teacher: str = field(default="openai", metadata={"help": "Teacher kind.", "choices": ["openai", "transformers"]})
    teacher_model: str | None = field(default=None, metadata={"help": "Teacher model name (endpoint) or id/path."})
    teacher_base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible endpoint URL."})
    teacher_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "Env variable holding the key."})
    teacher_concurrency: int = field(default=16, metadata={"help": "Requests in flight (openai teacher)."})
    teacher_batch_size: int = field(default=8, metadata={"help": "Generation batch size (transformers teacher)."})
    teacher_max_new_tokens: int = field(default=128, metadata={"help": "Tokens per revision."})
    teacher_temperature: float = field(default=0.7, metadata={"help": "Teacher sampling temperature."})


def load_items(args: TeacherScriptArguments):
    """Base generations as revision items: ``id``, ``prompt``, ``output`` and the grid columns."""
    from fairpp_hf.grid import read_generations

    table = read_generations(args.items, text_column=args.text_column).rename(columns={"text": "output"})
    if "id" not in table.columns:
        table.insert(0, "id", [f"row{i}" for i in range(len(table))])
    if "prompt" not in table.columns:
        missing = [c for c in ("stance", "theme", "age", "gender", "region") if c not in table.columns]
        if missing:
            raise ValueError(f"{args.items}: no 'prompt' column and cannot build one without {missing}")
        table["prompt"] = [PROMPT_TEMPLATE.format(**row) for row in table.to_dict(orient="records")]
    return table


def build_teacher(args: TeacherScriptArguments, training_args: ParetoTeacherDPOConfig):
    """The teacher the arguments describe."""
    from fairpp_hf.teachers import OpenAITeacher, TransformersTeacher

    if not args.teacher_model:
        raise ValueError("--teacher_model is required with --items")
    if args.teacher == "openai":
        return OpenAITeacher(args.teacher_model, base_url=args.teacher_base_url, api_key_env=args.teacher_api_key_env,
                             concurrency=args.teacher_concurrency, max_tokens=args.teacher_max_new_tokens,
                             temperature=args.teacher_temperature, cache_path=training_args.teacher_cache,
                             progress=not training_args.disable_tqdm)
    return TransformersTeacher(args.teacher_model, batch_size=args.teacher_batch_size,
                               max_new_tokens=args.teacher_max_new_tokens, temperature=args.teacher_temperature,
                               seed=training_args.seed, cache_path=training_args.teacher_cache)


def load_pairs(name: str, args: TeacherScriptArguments):
    """Prebuilt pairs from a local file (json/jsonl/parquet/csv), a local folder or a Hub dataset."""
    from pathlib import Path

    from datasets import load_dataset

    path = Path(name)
    if path.is_file():
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(path.suffix)
        if kind is None:
            raise ValueError(f"{name}: expected .jsonl, .json, .parquet or .csv")
        return load_dataset(kind, data_files=str(path), split="train")
    return load_dataset(name, args.dataset_config, split=args.dataset_train_split)


def main(script_args: TeacherScriptArguments, training_args: ParetoTeacherDPOConfig, model_args: ModelConfig) -> None:
    """Build or load the pairs, train, save (and push with --push_to_hub)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (script_args.items is None) == (script_args.dataset_name is None):
        raise ValueError("pass exactly one of --items (base generations + teacher) or --dataset_name (prebuilt pairs)")
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision)
    model = AutoModelForCausalLM.from_pretrained(
        model_args.model_name_or_path, revision=model_args.model_revision, dtype=model_args.dtype,
        attn_implementation=model_args.attn_implementation, **(training_args.model_init_kwargs or {}))
    if script_args.items is not None:
        kwargs = dict(items=load_items(script_args), teacher=build_teacher(script_args, training_args))
    else:
        kwargs = dict(train_dataset=load_pairs(script_args.dataset_name, script_args))
    trainer = ParetoTeacherDPOTrainer(model, args=training_args, processing_class=tokenizer,
                                      peft_config=get_peft_config(model_args), **kwargs)
    trainer.train()
    trainer.save_model(training_args.output_dir)
    if training_args.push_to_hub:
        trainer.push_to_hub()


if __name__ == "__main__":
    parser = TrlParser((TeacherScriptArguments, ParetoTeacherDPOConfig, ModelConfig))
    main(*parser.parse_args_and_config())
