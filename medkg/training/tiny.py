"""A tiny random-init causal LM with a locally trained tokenizer, for demos and tests.

:func:`build_tiny_model` writes a model folder that loads like any Hugging Face checkpoint
(``config.json``, safetensors weights, ``tokenizer.json`` with a ChatML chat template): a
2-layer Llama with hidden size 32 whose byte-level BPE tokenizer is trained here on a few
hundred medical sentences (:data:`MEDICAL_SENTENCES`). Nothing is downloaded; building it
takes well under a second, and a training step on it takes milliseconds on one thread.

The weights are random: the model answers at chance (or worse) and is only good for
exercising the pipeline end to end (``medkg train tiny-model OUT_DIR``), never for results.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

from medkg.outputs import staged_folder

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]

_DISEASES = {
    "Marfan syndrome": ("arachnodactyly", "ectopia lentis", "FBN1"),
    "cystic fibrosis": ("chronic cough", "pancreatic insufficiency", "CFTR"),
    "Huntington disease": ("chorea", "cognitive decline", "HTT"),
    "phenylketonuria": ("intellectual disability", "musty odour", "PAH"),
    "Duchenne muscular dystrophy": ("calf pseudohypertrophy", "Gowers sign", "DMD"),
    "sickle cell anaemia": ("painful crises", "haemolytic anaemia", "HBB"),
    "Fabry disease": ("angiokeratoma", "acroparesthesia", "GLA"),
    "Gaucher disease": ("splenomegaly", "bone crises", "GBA1"),
}
_TEMPLATES = (
    "A patient presents with {s1} and {s2}.",
    "Which is the most likely diagnosis in a patient with {s1}?",
    "{d} is caused by variants in {g}.",
    "{s2} is a recognised feature of {d}.",
    "Which gene is most likely implicated in {d}?",
    "The answer is {letter} because {d} explains {s1}.",
    "Understanding: the question asks about {d}.",
    "Recall: {d} is associated with {s1}, {s2} and the gene {g}.",
    "Reasoning: {s1} together with {s2} points to {d}.",
    "Conclusion: the findings fit {d}. Answer: {letter}",
)


def medical_sentences() -> list[str]:
    """A few hundred short sentences about diseases, phenotypes and genes (deterministic)."""
    out = []
    for (d, (s1, s2, g)), template, letter in product(_DISEASES.items(), _TEMPLATES, "ABCD"):
        out.append(template.format(d=d, s1=s1, s2=s2, g=g, letter=letter))
    return sorted(set(out))


MEDICAL_SENTENCES = medical_sentences()


def build_tokenizer(vocab_size: int = 400) -> object:
    """A byte-level BPE ``PreTrainedTokenizerFast`` with a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(MEDICAL_SENTENCES, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tok.chat_template = CHATML
    return tok


def build_tiny_model(folder: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a 2-layer, hidden-32 Llama and its tokenizer to ``folder``; return the folder.

    ``initializer_range`` is large so logits are peaked: greedy choices are not near-ties,
    and the same seed gives the same weights (and the same generations) on every run.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tok),  # type: ignore[arg-type]
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,  # type: ignore[attr-defined]
        eos_token_id=tok.eos_token_id,  # type: ignore[attr-defined]
        pad_token_id=tok.pad_token_id,  # type: ignore[attr-defined]
        initializer_range=0.2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out = Path(folder)
    with staged_folder(out, "tiny-model", legacy=_saved_model) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)  # type: ignore[attr-defined]
    return out


def _saved_model(folder: Path) -> bool:
    return (folder / "config.json").is_file()


__all__ = [
    "CHATML",
    "MEDICAL_SENTENCES",
    "SPECIAL_TOKENS",
    "build_tiny_model",
    "build_tokenizer",
    "medical_sentences",
]
