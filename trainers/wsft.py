"""Weighted SFT (the Fair-PP pipeline's stage before WDPO) with fairpp_hf.WeightedSFTTrainer.

The dataset needs `prompt`/`completion` (or `messages`) and a weight column (default `weight`), e.g. the
`sft_persona_6` config of a folder written by `fairpp_hf.export_dataset`. Each example's token-averaged NLL is
weighted; the reduction is sum(w * l) / sum(w) over the whole optimizer step.

# Full training
```bash
python trainers/wsft.py \
    --dataset_name out/fair-pp \
    --dataset_config sft_persona_6 \
    --model_name_or_path meta-llama/Llama-3.2-3B-Instruct \
    --learning_rate 1.0e-5 \
    --num_train_epochs 1 \
    --per_device_train_batch_size 32 \
    --gradient_accumulation_steps 2 \
    --max_length 512 \
    --weight_column weight \
    --output_dir Llama-3.2-3B-WSFT-persona-6
```

# LoRA
```bash
python trainers/wsft.py \
    --dataset_name out/fair-pp \
    --dataset_config sft_persona_6 \
    --model_name_or_path Qwen/Qwen2.5-7B-Instruct \
    --learning_rate 2.0e-4 \
    --per_device_train_batch_size 4 \
    --gradient_accumulation_steps 8 \
    --use_peft \
    --lora_r 32 \
    --lora_alpha 16 \
    --output_dir Qwen2.5-7B-WSFT-LoRA-persona-6
```

# Several GPUs
```bash
accelerate launch --config_file trainers/accelerate_configs/deepspeed_zero2.yaml trainers/wsft.py \
    --dataset_name out/fair-pp --dataset_config sft_persona_6 \
    --model_name_or_path meta-llama/Llama-3.2-3B-Instruct --output_dir Llama-3.2-3B-WSFT
```
"""

from __future__ import annotations


def main(script_args, training_args, model_args) -> None:
    """Load the data and model named on the command line, train with WeightedSFTTrainer, save (and push)."""
    from datasets import load_dataset
    from trl import get_peft_config, get_quantization_config

    from fairpp_hf.trainers import WeightedSFTTrainer

    model_init_kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    model_init_kwargs.update(training_args.model_init_kwargs or {})
    training_args.model_init_kwargs = model_init_kwargs

    dataset = load_dataset(
        script_args.dataset_name, name=script_args.dataset_config, streaming=script_args.dataset_streaming
    )
    eval_dataset = None
    if training_args.eval_strategy != "no":
        eval_dataset = dataset[script_args.dataset_test_split]

    trainer = WeightedSFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=dataset[script_args.dataset_train_split],
        eval_dataset=eval_dataset,
        quantization_config=get_quantization_config(model_args),
        peft_config=get_peft_config(model_args),
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model(training_args.output_dir)
    trainer.accelerator.print(f"Model saved to {training_args.output_dir}.")
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=script_args.dataset_name)


def make_parser():
    """TrlParser over (ScriptArguments, WeightedSFTConfig, ModelConfig), as in TRL's own scripts."""
    from trl import ModelConfig, ScriptArguments, TrlParser

    from fairpp_hf.trainers import WeightedSFTConfig

    return TrlParser((ScriptArguments, WeightedSFTConfig, ModelConfig))


if __name__ == "__main__":
    parser = make_parser()
    script_args, training_args, model_args = parser.parse_args_and_config()
    main(script_args, training_args, model_args)
