"""Publish aligned models to the Hugging Face Hub with their fairness model card.

:func:`save_for_hub` writes a Hub-ready folder (LoRA adapter, or the merged model on request, plus the
card from :mod:`fairpp_hf.model_card`); :func:`push_adapter` does that in a temporary folder and uploads
it with ``huggingface_hub``. Before anything is uploaded, ``adapter_config.json`` is pointed at the base
model's Hub id (peft stores whatever local path the base was loaded from), training state files that can
hold secrets (``training_args.bin``, optimizer state) are left out, and every file is checked for the
token. Repos are private by default.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .model_card import FairnessCardData, write_model_card

logger = logging.getLogger(__name__)

#: Tokenizer files, published beside an adapter or a merged model.
TOKENIZER_PATTERNS: tuple[str, ...] = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "chat_template.jinja", "chat_template.json", "vocab.json", "merges.txt", "tokenizer.model", "*.tiktoken",
)
#: Files of a trained adapter or model folder that are published; anything else (``training_args.bin``,
#: optimizer state, checkpoints, logs) stays local.
PUBLISHED_PATTERNS: tuple[str, ...] = (
    "adapter_config.json", "adapter_model.safetensors", "adapter_model.bin",
    "config.json", "generation_config.json", "model.safetensors", "model-*.safetensors",
    "model.safetensors.index.json", *TOKENIZER_PATTERNS,
)


def check_hub_id(value: str, argument: str = "base_model_id") -> str:
    """Return ``value`` if it is a Hub repo id (``name`` or ``namespace/name``), not a local path."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{argument}={value!r} must be a Hub repo id such as 'meta-llama/Llama-3.2-3B-Instruct'")
    if Path(value).expanduser().exists() or value.startswith((".", "/", "~")):
        raise ValueError(
            f"{argument}={value!r} is a local path; give the base model's Hub id so others can load the adapter"
        )
    try:
        validate_repo_id(value)
    except HFValidationError as exc:
        raise ValueError(f"{argument}={value!r} is not a valid Hub repo id: {exc}") from None
    return value


def set_adapter_base_model(folder: str | Path, base_model_id: str) -> str | None:
    """Point ``folder/adapter_config.json`` at ``base_model_id``; returns the previous value."""
    check_hub_id(base_model_id)
    path = Path(folder) / "adapter_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a peft adapter folder")
    config = json.loads(path.read_text())
    previous = config.get("base_model_name_or_path")
    if previous != base_model_id:
        config["base_model_name_or_path"] = base_model_id
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        logger.info("adapter_config.json: base_model_name_or_path %r -> %r", previous, base_model_id)
    return previous


def _copy_published(src: Path, dst: Path, patterns: tuple[str, ...] = PUBLISHED_PATTERNS) -> list[str]:
    """Copy the files of ``src`` matching ``patterns`` into ``dst``; returns the names left out."""
    left_out = []
    for item in sorted(src.iterdir()):
        if item.is_file() and any(fnmatch.fnmatch(item.name, p) for p in patterns):
            shutil.copy2(item, dst / item.name)
        else:
            left_out.append(item.name + ("/" if item.is_dir() else ""))
    return left_out


def _load_base(base_model_path: str | None, adapter_dir: Path):
    from transformers import AutoModelForCausalLM

    if base_model_path is None:
        base_model_path = json.loads((adapter_dir / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base_model_path:
        raise ValueError("merge=True needs base_model_path: where the base model's weights can be loaded from")
    return AutoModelForCausalLM.from_pretrained(base_model_path)


def save_for_hub(
    model_or_path: Any,
    folder: str | Path,
    *,
    base_model_id: str,
    card: FairnessCardData | None = None,
    tokenizer: Any = None,
    merge: bool = False,
    base_model_path: str | None = None,
    repo_id: str | None = None,
    **card_fields: Any,
) -> Path:
    """Write a Hub-ready folder: the adapter (or merged model), tokenizer if given, and the fairness card.

    ``model_or_path`` is a ``peft.PeftModel`` or a folder holding a saved adapter (e.g. a trainer's
    ``output_dir``). ``card_fields`` are :class:`~fairpp_hf.model_card.FairnessCardData` fields (``method``,
    ``target_persona``, ``similarity``, ``audits``, ``training_args``, ``synthetic``...) that fill or override
    ``card``. With ``merge=True`` the LoRA weights are merged into a copy of the base model (loaded from
    ``base_model_path`` when given a folder) and the full model is written.
    """
    base_model_id = check_hub_id(base_model_id)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if card is None:
        card = FairnessCardData(base_model=base_model_id, adapter=not merge, **card_fields)
    else:
        card = dataclasses.replace(card, base_model=base_model_id, adapter=not merge, **card_fields)

    if isinstance(model_or_path, (str, Path)):
        src = Path(model_or_path)
        if not (src / "adapter_config.json").is_file():
            raise FileNotFoundError(f"model_or_path={str(src)!r} holds no adapter_config.json (a saved peft adapter)")
        if merge:
            from peft import PeftModel

            merged = PeftModel.from_pretrained(_load_base(base_model_path, src), src).merge_and_unload()
            merged.save_pretrained(folder)
            left_out = _copy_published(src, folder, TOKENIZER_PATTERNS)
        else:
            left_out = _copy_published(src, folder)
        if left_out:
            logger.info("not published from %s: %s", src, ", ".join(left_out))
    else:
        if not hasattr(model_or_path, "save_pretrained"):
            raise TypeError(f"model_or_path must be a peft model or a folder; got {type(model_or_path).__name__}")
        if merge:
            if not hasattr(model_or_path, "merge_and_unload"):
                raise TypeError("merge=True needs a peft model (with merge_and_unload)")
            copy.deepcopy(model_or_path).merge_and_unload().save_pretrained(folder)
        else:
            if not hasattr(model_or_path, "peft_config"):
                raise TypeError("model_or_path is not a peft model: pass merge=False only with a LoRA adapter")
            model_or_path.save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    if not merge:
        set_adapter_base_model(folder, base_model_id)
    write_model_card(folder, card, repo_id=repo_id)
    return folder


def _resolve_token(token: str | None) -> str | None:
    if token is not None:
        return token
    from huggingface_hub import get_token

    return get_token()


def assert_no_secret(folder: str | Path, secret: str | None) -> None:
    """Raise if any file under ``folder`` contains ``secret`` (the message names the file, never the secret)."""
    if not secret:
        return
    needle = secret.encode()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and needle in path.read_bytes():
            raise RuntimeError(f"refusing to publish: {path.name} contains the Hub token")


def _validate_card(endpoint: str, token: str | None, folder: Path) -> None:
    """Ask the Hub to validate the card's YAML metadata, as ``ModelCard.push_to_hub`` does."""
    from huggingface_hub import ModelCard
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    card = ModelCard.load(folder / "README.md")
    response = get_session().post(
        f"{endpoint}/api/validate-yaml",
        json={"repoType": "model", "content": card.content},
        headers={**build_hf_headers(token=token), "Accept": "text/plain"},
    )
    if response.status_code == 400:
        raise ValueError(f"the Hub rejected the model card metadata: {response.text}")
    hf_raise_for_status(response)


def push_adapter(
    model_or_path: Any,
    repo_id: str,
    *,
    base_model_id: str,
    card: FairnessCardData | None = None,
    tokenizer: Any = None,
    merge: bool = False,
    base_model_path: str | None = None,
    private: bool = True,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str | None = None,
    **card_fields: Any,
):
    """Push a LoRA adapter (or, with ``merge=True``, the merged model) with its fairness model card.

    The card states the base model, data, target persona, training arguments, persona similarity and
    margins, audits when given (``model-index`` + tables), both papers' citations and the SYNTHETIC label
    when it applies (see :func:`save_for_hub` for ``card``/``card_fields``). The repo is created private
    unless ``private=False``; ``token`` (else the logged-in token) is sent to the Hub and written nowhere.
    ``endpoint`` points at another Hub server. Returns the ``huggingface_hub.CommitInfo``.
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    secret = _resolve_token(token)
    with tempfile.TemporaryDirectory(prefix="fairpp-hf-push-") as tmp:
        folder = save_for_hub(
            model_or_path, Path(tmp) / "upload", base_model_id=base_model_id, card=card, tokenizer=tokenizer,
            merge=merge, base_model_path=base_model_path, repo_id=repo_id, **card_fields,
        )
        assert_no_secret(folder, secret)
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        if private:
            info = api.repo_info(repo_id, repo_type="model")
            if info.private is False:
                logger.warning("%s already exists and is public: private=True has no effect on it", repo_id)
        _validate_card(api.endpoint, token, folder)
        kind = "merged model" if merge else "LoRA adapter"
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=folder, repo_type="model",
            commit_message=commit_message or f"Upload {kind} with fairness model card (fairpp-hf)",
        )
    logger.info("pushed %s to %s (commit %s)", kind, url, commit.oid)
    return commit
