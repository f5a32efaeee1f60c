"""Speed and memory of mpt's engine against the alternatives, on one backbone, tokens and batch size.

    python benchmarks/speed.py --model e5-mlm --data xnli/dev-en.tsv
    python benchmarks/speed.py --model path/to/xlm-roberta-base-config.json \\
        --tokenizer path/to/xlmr-tokenizer --data xnli/dev-en.tsv    # random weights

--model is a model directory or a config.json (random weights: timings only, never accuracy).
Each variant runs in its own process so that its peak memory is its own. Needs `pip install peft`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HAND_PADDING = 128


def load(args):
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

    from mpt_cli.cli.common import quiet_libraries
    from mpt_cli.engine.backbone import Backbone, make_accelerator

    quiet_libraries()
    if args.model.endswith(".json"):
        torch.manual_seed(0)
        model = AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(args.model))
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    else:
        model = AutoModelForMaskedLM.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or args.model)
    return Backbone(model, tokenizer, args.model, make_accelerator(cpu=args.device == "cpu"))


def label_words(backbone):
    """The pieces of NLI's default label words (each label: the mean of its words in 15 languages), as mpt reads them."""
    from mpt_cli.task import BUILT_IN
    from mpt_cli.verbalizer import Verbalizer

    return Verbalizer(BUILT_IN["xnli"].words).label_words(backbone.tokenizer).to(backbone.device)


def examples(args) -> list[tuple[str, str]]:
    with open(args.data, encoding="utf-8") as lines:
        rows = [line.rstrip("\n").split("\t") for line in lines]
    return [(r[0], r[1]) for r in rows[: args.examples]]


def encoded_inputs(backbone, pairs):
    from mpt_cli.task import BUILT_IN
    from mpt_cli.template import TemplateEncoder

    nli = BUILT_IN["xnli"]
    return TemplateEncoder(nli.template, backbone.tokenizer, 4, 128, nli.inputs).encode(pairs)


def synchronize(backbone):
    if backbone.device.type == "cuda":
        torch.cuda.synchronize()


def timed(backbone, run, repeats: int) -> float:
    """Best of ``repeats`` wall-clock seconds after one warm-up."""
    run()
    best = float("inf")
    for _ in range(repeats):
        synchronize(backbone)
        start = time.perf_counter()
        run()
        synchronize(backbone)
        best = min(best, time.perf_counter() - start)
    return best


# ---------------------------------------------------------------------------------------- variants


def eval_mpt(backbone, args):
    from mpt_cli.engine.inference import label_probabilities

    encoded = encoded_inputs(backbone, examples(args))
    prompt = torch.randn(4, backbone.hidden_size) * 0.1
    ids = label_words(backbone)
    return len(encoded), lambda: label_probabilities(backbone, encoded, prompt, ids, args.batch_size)


def eval_bare_encoder(backbone, args):
    """The limit: the encoder alone on mpt's batches (same tokens, order and padding), no head."""
    from mpt_cli.engine.batching import by_length, collate

    encoded = encoded_inputs(backbone, examples(args))
    batches = [
        collate(encoded, rows, backbone.tokenizer.pad_token_id, 4).to(backbone.device)
        for rows in by_length(encoded, args.batch_size)
    ]

    @torch.no_grad()
    def run():
        backbone.model.eval()
        for batch in batches:
            with backbone.accelerator.autocast():
                backbone.model.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)

    return len(encoded), run


def eval_hand_written(backbone, args):
    """What a user writes with transformers: pad to 128, full-vocabulary logits at every position."""
    pairs = examples(args)
    tok = backbone.tokenizer
    texts = [f"{p} . {h} ? {tok.mask_token} ." for p, h in pairs]
    ids = label_words(backbone).piece_ids.tolist()

    @torch.no_grad()
    def run():
        backbone.model.eval()
        for start in range(0, len(texts), args.batch_size):
            batch = tok(
                texts[start : start + args.batch_size],
                padding="max_length", truncation=True, max_length=HAND_PADDING, return_tensors="pt",
            ).to(backbone.device)  # fmt: skip
            with backbone.accelerator.autocast():
                logits = backbone.model(**batch).logits  # [B, 128, V]
            logits[batch["input_ids"] == tok.mask_token_id][:, ids].softmax(-1).cpu()

    return len(texts), run


def peft_ptuning(backbone):
    import peft

    config = peft.PromptEncoderConfig(
        task_type="FEATURE_EXTRACTION", num_virtual_tokens=4, encoder_hidden_size=backbone.hidden_size,
        encoder_reparameterization_type="LSTM",
    )  # fmt: skip
    return peft.get_peft_model(backbone.model, config)


def eval_peft(backbone, args):
    """PEFT's P-tuning forward (4 virtual tokens, LSTM encoder), padded to 128, full logits as PEFT returns them."""
    pairs = examples(args)
    tok = backbone.tokenizer
    texts = [f"{p} . {h} ? {tok.mask_token} ." for p, h in pairs]
    model = peft_ptuning(backbone)
    ids = label_words(backbone).piece_ids.tolist()

    @torch.no_grad()
    def run():
        model.eval()
        for start in range(0, len(texts), args.batch_size):
            batch = tok(
                texts[start : start + args.batch_size],
                padding="max_length", truncation=True, max_length=HAND_PADDING, return_tensors="pt",
            ).to(backbone.device)  # fmt: skip
            with backbone.accelerator.autocast():
                logits = model(**batch).logits[:, 4:]  # drop the virtual tokens
            logits[batch["input_ids"] == tok.mask_token_id][:, ids].softmax(-1).cpu()

    return len(texts), run


def train_mpt(backbone, args):
    """One training step of the prompt (backbone frozen): forward, backward to the prompt encoder, update."""
    import torch.nn.functional as F

    from mpt_cli.engine.batching import collate
    from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig

    encoded = encoded_inputs(backbone, examples(args))[: args.train_batch]
    encoder = PromptEncoder(PromptEncoderConfig(4, backbone.hidden_size)).to(backbone.device)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-3)
    ids = label_words(backbone)
    batch = collate(encoded, list(range(len(encoded))), backbone.tokenizer.pad_token_id, 4, [i % 3 for i in range(len(encoded))])
    batch = batch.to(backbone.device)
    backbone.model.train()

    def run():
        loss = F.cross_entropy(backbone.mask_logits(batch, encoder(), ids), batch.labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return len(encoded), run


def train_peft(backbone, args):
    """PEFT P-tuning step on the same examples: full logits, cross entropy on the label words at the mask."""
    import torch.nn.functional as F

    pairs = examples(args)[: args.train_batch]
    tok = backbone.tokenizer
    texts = [f"{p} . {h} ? {tok.mask_token} ." for p, h in pairs]
    model = peft_ptuning(backbone)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ids = label_words(backbone)
    batch = tok(texts, padding=True, truncation=True, max_length=HAND_PADDING, return_tensors="pt").to(backbone.device)
    labels = torch.tensor([i % 3 for i in range(len(texts))], device=backbone.device)
    model.train()

    def run():
        with backbone.accelerator.autocast():
            logits = model(**batch).logits[:, 4:]
        loss = F.cross_entropy(logits[batch["input_ids"] == tok.mask_token_id][:, ids].float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return len(texts), run


def align_epoch(backbone, args, cached: bool):
    """One alignment epoch over ``--pairs`` parallel pairs (English text on both sides, so no corpus is needed).

    The teacher lives across epochs as in training: the warm-up epoch fills the cache, the timed ones use it.
    """
    from mpt_cli.engine.align import AlignConfig, Teacher, alignment_kl
    from mpt_cli.engine.batching import shuffled
    from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig

    pairs = examples(args)[: args.pairs]
    encoded = encoded_inputs(backbone, pairs)
    target = encoded_inputs(backbone, list(reversed(pairs)))
    translator = PromptTranslator(TranslatorConfig(backbone.hidden_size)).to(backbone.device)
    optimizer = torch.optim.AdamW(translator.parameters(), lr=1e-4)
    source_prompt = torch.randn(4, backbone.hidden_size, device=backbone.device) * 0.1
    ids = label_words(backbone)
    config = AlignConfig(batch_size=16)
    backbone.model.eval()
    teacher = Teacher(backbone, encoded, 64)

    def run():
        for rows in shuffled(len(target), config.batch_size, torch.Generator().manual_seed(0)):
            kl = alignment_kl(backbone, teacher, target, rows, source_prompt, translator(source_prompt), config, ids, cached)
            kl.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return len(pairs), run


def scaling(backbone, args):
    """Seconds per example of mpt's evaluation for synthetic inputs of each length and batch size."""
    from mpt_cli.engine.inference import label_probabilities
    from mpt_cli.template import EncodedExample

    ids = label_words(backbone)
    prompt = torch.randn(4, backbone.hidden_size) * 0.1
    generator = torch.Generator().manual_seed(0)
    table = {}
    for length in (32, 64, 128):
        tokens = torch.randint(10, 1000, (args.scaling_examples, length), generator=generator).tolist()
        encoded = [EncodedExample(t, 1, length - 2) for t in tokens]
        for batch_size in (8, 32, 128):
            run = lambda: label_probabilities(backbone, encoded, prompt, ids, batch_size)  # noqa: B023 - timed() calls it before the loop moves on
            seconds = timed(backbone, run, args.repeats)
            table[f"len {length}, batch {batch_size}"] = round(1000 * seconds / len(encoded), 3)
    return table


ADAPTED_LANGUAGES = ("ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")


def adapters(backbone, args, layout: str):
    """Rows of 15 languages, 14 of them with an adapter of their own (random weights, the default adapter):
    ``one``: every row through one adapter; ``mixed``: languages interleaved, routed per row within each
    batch (what mpt does); ``grouped``: the rows of each language scored apart, one call per language."""
    from mpt_cli.engine.inference import label_probabilities
    from mpt_cli.engine.language_adapter import AdapterConfig

    for seed, lang in enumerate(ADAPTED_LANGUAGES):
        backbone.language_adapters.add(lang, AdapterConfig(), seed=seed)
    encoded = encoded_inputs(backbone, examples(args))
    prompt = torch.randn(4, backbone.hidden_size) * 0.1
    ids = label_words(backbone)
    languages = [(None, *ADAPTED_LANGUAGES)[i % 15] for i in range(len(encoded))]
    if layout == "one":
        return len(encoded), lambda: label_probabilities(backbone, encoded, prompt, ids, args.batch_size, route="de")
    if layout == "mixed":
        return len(encoded), lambda: label_probabilities(backbone, encoded, prompt, ids, args.batch_size, route=languages)

    def grouped():
        for lang in dict.fromkeys(languages):
            rows = [encoded[i] for i, row_lang in enumerate(languages) if row_lang == lang]
            label_probabilities(backbone, rows, prompt, ids, args.batch_size, route=lang)

    return len(encoded), grouped


def sizes(backbone) -> dict:
    """Bytes of each artifact kind for this backbone's hidden size."""
    from safetensors.torch import save_file

    from mpt_cli.engine.language_adapter import AdapterConfig
    from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
    from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig

    hidden = backbone.hidden_size
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        def size_of(name, tensors):
            path = Path(folder) / name
            save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, str(path))
            result[name] = path.stat().st_size

        encoder = PromptEncoder(PromptEncoderConfig(4, hidden))
        size_of("prompt tensor only", {"prompt": torch.zeros(4, hidden)})
        size_of("prompt artifact (prompt + LSTM encoder)", {"prompt": torch.zeros(4, hidden)} | dict(encoder.state_dict()))
        size_of("translator (width 2H)", dict(PromptTranslator(TranslatorConfig(hidden)).state_dict()))
        backbone.set_tune("lora", 8)
        size_of("LoRA adapters (rank 8)", backbone.lora_state())
        backbone.language_adapters.add("de", AdapterConfig())
        size_of("language adapter (the default: rank 8, query, value, output.dense)", backbone.language_adapters.state("de"))
        unique = {t.data_ptr(): t for t in backbone.model.state_dict().values()}  # tied weights are saved once
        result["full backbone (float32 safetensors)"] = sum(t.numel() * 4 for t in unique.values())
    return result


VARIANTS = {
    "eval-mpt": eval_mpt,
    "eval-bare-encoder": eval_bare_encoder,
    "eval-hand-written": eval_hand_written,
    "eval-peft-ptuning": eval_peft,
    "train-mpt": train_mpt,
    "train-peft-ptuning": train_peft,
    "align-cached": lambda backbone, args: align_epoch(backbone, args, cached=True),
    "align-uncached": lambda backbone, args: align_epoch(backbone, args, cached=False),
    "adapters-one": lambda backbone, args: adapters(backbone, args, "one"),
    "adapters-mixed": lambda backbone, args: adapters(backbone, args, "mixed"),
    "adapters-grouped": lambda backbone, args: adapters(backbone, args, "grouped"),
}


def peak_memory_mb(backbone) -> float:
    if backbone.device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_variant(args) -> dict:
    backbone = load(args)
    loaded_mb = peak_memory_mb(backbone)
    if backbone.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    count, run = VARIANTS[args.variant](backbone, args)
    seconds = timed(backbone, run, args.repeats)
    return {
        "items": count, "seconds": seconds, "per_second": count / seconds,
        "peak_mb": peak_memory_mb(backbone), "loaded_mb": loaded_mb,
    }  # fmt: skip


def machine(device: str) -> str:
    with open("/proc/cpuinfo") as lines:
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if device == "cuda" else ""
    return f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads{gpu}; torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokenizer")
    parser.add_argument("--data", required=True, help="premise<TAB>hypothesis[<TAB>label] file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=128)
    parser.add_argument("--scaling-examples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="eval train align adapters scaling sizes")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args)))
        return

    sections = args.only or ["eval", "train", "align", "adapters", "scaling", "sizes"]
    print(f"machine: {machine(args.device)}")
    print(f"model: {args.model}; {args.examples} examples of {args.data}; "
          f"eval batch {args.batch_size}, train batch {args.train_batch}\n")  # fmt: skip
    passthrough = [a for a in sys.argv[1:] if a != "--only" and a not in sections]
    measured = {}
    for name in VARIANTS:
        if name.split("-")[0] in sections:
            out = subprocess.run(
                [sys.executable, __file__, *passthrough, "--variant", name], capture_output=True, text=True, check=False
            )
            if out.returncode != 0:
                print(f"{name}: failed\n{out.stderr[-2000:]}")
                continue
            measured[name] = json.loads(out.stdout.strip().splitlines()[-1])
            m = measured[name]
            print(f"{name:20s} {m['per_second']:9.1f} items/s   {1000 * m['seconds'] / m['items']:8.2f} ms/item   "
                  f"peak {m['peak_mb']:8.0f} MB (after load {m['loaded_mb']:.0f} MB)")  # fmt: skip
    ratio = lambda a, b: f"{measured[a]['per_second'] / measured[b]['per_second']:.2f}x"
    if {"eval-mpt", "eval-bare-encoder", "eval-hand-written", "eval-peft-ptuning"} <= measured.keys():
        print(f"\neval: mpt / bare encoder = {ratio('eval-mpt', 'eval-bare-encoder')} (goal >= 0.9x), "
              f"mpt / hand-written = {ratio('eval-mpt', 'eval-hand-written')} (goal >= 3x), "
              f"mpt / PEFT P-tuning = {ratio('eval-mpt', 'eval-peft-ptuning')}")  # fmt: skip
    if {"train-mpt", "train-peft-ptuning"} <= measured.keys():
        print(f"train step: mpt / PEFT P-tuning = {ratio('train-mpt', 'train-peft-ptuning')} (goal >= 1.5x)")
    if {"align-cached", "align-uncached"} <= measured.keys():
        print(f"alignment epoch: cached / uncached teacher = {ratio('align-cached', 'align-uncached')}")
    if {"adapters-one", "adapters-mixed", "adapters-grouped"} <= measured.keys():
        print(f"language adapters: mixed / one language = {ratio('adapters-mixed', 'adapters-one')} (goal >= 0.8x), "
              f"mixed / grouped by language = {ratio('adapters-mixed', 'adapters-grouped')}")  # fmt: skip
    if "scaling" in sections or "sizes" in sections:
        backbone = load(args)
        if "scaling" in sections:
            print("\nms per example, mpt eval, synthetic inputs:")
            for key, value in scaling(backbone, args).items():
                print(f"  {key:22s} {value:8.3f}")
        if "sizes" in sections:
            print("\nartifact sizes:")
            for key, value in sizes(backbone).items():
                print(f"  {key:42s} {value / 2**20:10.2f} MB")


if __name__ == "__main__":
    main()
