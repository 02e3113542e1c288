"""Build a tiny Llama causal LM and its tokenizer offline, from nothing but this package.

Used by the main job's smoke-scale default (``fairpp-hf align`` without ``--model``), by the tests
and by the benchmarks: no weights can be downloaded here, and a real Hub id is the real experiment.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]


def _corpus(n_questions: int, seed: int) -> list[str]:
    from .synthetic import synthetic_frame

    frame = synthetic_frame(n_questions, seed=seed)
    texts = list(frame["Question"])
    texts += ["Answer with the option directly.", "Human:", "Assistant:", " A", " B", " C", "A.", "B.", "C."]
    return texts


def build_tokenizer(vocab_size: int = 512, *, seed: int = 0):
    """A byte-level BPE tokenizer trained on synthetic Fair-PP questions, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(800, seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", bos_token="<|bos|>", eos_token="<|eos|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(
    path: str | Path | None = None,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int = 128,
    vocab_size: int = 512,
    max_position_embeddings: int = 1024,
    seed: int = 0,
):
    """A randomly initialised Llama (about 0.1M parameters by default) and its tokenizer.

    With ``path``, both are saved there (``from_pretrained(path)`` then loads them). Returns
    ``(model, tokenizer)``. Raise ``hidden_size``/``num_layers`` for a ~10M-parameter benchmark model.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(vocab_size, seed=seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        # Like a model loaded from `path`: TRL rebuilds a reference model from this name when ref_model=None.
        model.config._name_or_path = str(path)
        tokenizer.name_or_path = str(path)
    return model, tokenizer
