"""Train a step-level PRM: token classification read at each step separator.

    ponder train prm --config configs/train/prm.yaml [--key value ...]
    accelerate launch -m ponder.train.prm --config configs/train/prm.yaml

TRL 1.14+ removed its PRMTrainer, so this trainer is ponder's own: a `transformers.Trainer`
subclass that overrides only how a row becomes tensors and the loss. Rows are TRL's stepwise
supervision layout (`prompt`, `completions`, `labels`), optionally with `soft_labels` (the
fraction of Monte-Carlo rollouts that reached the answer). A row is tokenized as the `token-cls`
scorer reads it: [bos] + prompt (+ `step_separator` unless `separate_prompt` is off, TRL's way), then
each step followed by `step_separator`; the step's label
sits on the separator's last token, every other position is ignored. The loss is cross-entropy
against the target P(good) (1/0 for hard labels, the rollout fraction for soft ones), so one code
path trains both. The output folder loads in `ponder.infer.prm` as `token-cls`.

The 2-way classifier at the separator is either a new 2-label head (`head: token-cls`, TRL's
PRMTrainer) or two rows of the causal LM's own head (`head: lm`): the logits of `good_token`
against `bad_token`, Math-Shepherd's readout. The second keeps the language model whole, so
`lm_loss_weight` can go on training next-token prediction on the good steps while the verdict is
learnt: a wrong digit is what the policy itself finds unlikely, and a PRM started from the policy
should not forget how to compute the digit it is judging. With `likelihood_score`, the step's
score also weighs the log-likelihood of the steps so far under that LM and its least likely token;
those weights, a length weight and a bias are fitted by logistic regression on questions held out
of training once it ends (`fit_score_weights`): the verdict alone mostly learns how hard a question
is, while verdict and likelihood together tell one question's solutions apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import (
    AutoModelForCausalLM,
    AutoModelForTokenClassification,
    AutoTokenizer,
    Trainer,
    TrainingArguments,
)

from ponder.config import ConfigError, parse_config
from ponder.data import DatasetError
from ponder.data.stepwise import load_stepwise
from ponder.infer.prm.token_cls import (
    VERDICT_ONLY,
    encode_separator,
    prefix_lm_features,
    prefix_tokens,
    prompt_ids,
    step_log_odds,
)
from ponder.models import ModelArguments
from ponder.tracking import finish_wandb
from ponder.train.defaults import SmallModelDefaults, on_device, trained_model
from ponder.train.resume import train_resuming

IGNORE = -100.0
HEADS = ("token-cls", "lm")


@dataclass
class PRMArguments(ModelArguments):
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Causal-LM folder or hub name to start from (head token-cls: its LM head is replaced "
            "by a 2-label head).",
            "aliases": ["--model"],
        },
    )
    dataset: str = field(
        default="outputs/prm-labels/labels.jsonl",
        metadata={
            "help": "jsonl/json file or hub dataset of step labels: TRL's stepwise layout (prompt, "
            "completions, labels[, soft_labels]), Math-Shepherd, PRM800K or MATH-APS."
        },
    )
    dataset_split: str = field(
        default="train", metadata={"help": "Split to load when `dataset` is a hub name."}
    )


@dataclass
class PRMConfig(SmallModelDefaults, TrainingArguments):
    """TrainingArguments plus what a step-level PRM needs, with ponder's small-model defaults."""

    output_dir: str = field(default="outputs/prm", metadata={"help": "Where the PRM is saved."})
    step_separator: str = field(
        default="\n",
        metadata={
            "help": "Appended to every step; the step's label sits on its last token (TRL's convention)."
        },
    )
    separate_prompt: bool = field(
        default=True,
        metadata={
            "help": "Put the separator after the prompt too, so the question and the first step do not run "
            "together (TRL's PRMTrainer did not; the scorer reads this choice from prm_config.json)."
        },
    )
    chat_template: bool = field(
        default=False,
        metadata={
            "help": "Put the question in the tokenizer's chat template (user turn, assistant turn opened), "
            "as the policy reads it."
        },
    )
    max_length: int = field(
        default=512, metadata={"help": "Rows longer than this are cut; steps past the cut lose their labels."}
    )
    train_on_last_step_only: bool = field(
        default=False, metadata={"help": "Label only the last step of each row (an outcome reward model)."}
    )
    soft_labels: bool = field(
        default=False,
        metadata={"help": "Train on `soft_labels` (rollout success fractions) instead of hard labels."},
    )
    head: str = field(
        default="token-cls",
        metadata={
            "help": "'token-cls': a new 2-label head (TRL's PRMTrainer). 'lm': keep the causal LM's head "
            "and read P(good) from the logits of `good_token` against `bad_token` (Math-Shepherd's readout)."
        },
    )
    good_token: str = field(
        default="+", metadata={"help": "head lm: the token whose logit says the step is good."}
    )
    bad_token: str = field(
        default="-", metadata={"help": "head lm: the token whose logit says the step is wrong."}
    )
    lm_loss_weight: float = field(
        default=0.0,
        metadata={
            "help": "head lm: weight of next-token loss on the steps labelled good, added to the verdict "
            "loss, so the PRM keeps the policy's knowledge of correct steps."
        },
    )
    likelihood_score: bool = field(
        default=False,
        metadata={
            "help": "head lm: score a step by its verdict and the log-likelihood of the steps so far under "
            "the PRM's own LM, weighted by logistic regressions fitted on held-out questions after training."
        },
    )
    score_fit_fraction: float = field(
        default=0.1,
        metadata={
            "help": "likelihood_score: share of the dataset's questions held out of training to fit the "
            "score weights on."
        },
    )
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Batch size per device."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate (AdamW)."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Passes over the labelled rows."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep the tokenized columns (the collator needs them)."}
    )

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"head: unknown '{self.head}' (expected one of: {', '.join(HEADS)})")
        if self.lm_loss_weight < 0 or (self.lm_loss_weight and self.head != "lm"):
            raise ValueError(
                f"lm_loss_weight: must be >= 0, and needs head 'lm' (got {self.lm_loss_weight} with head "
                f"'{self.head}')"
            )
        if self.likelihood_score and self.head != "lm":
            raise ValueError(
                "likelihood_score: needs head 'lm' (the likelihood is read from the LM head), got head "
                f"'{self.head}'"
            )
        if not 0 < self.score_fit_fraction < 1:
            raise ValueError(f"score_fit_fraction: must be in (0, 1), got {self.score_fit_fraction}")
        super().__post_init__()


def tokenize_row(row: dict, tokenizer, config: PRMConfig) -> dict:
    """input_ids, per-token targets (P(good) at each step's separator, IGNORE elsewhere) and, for
    the LM loss, each position's next token where both lie inside one step labelled good."""
    targets_per_step = row["soft_labels"] if config.soft_labels else row["labels"]
    if len(targets_per_step) != len(row["completions"]):
        raise DatasetError(
            f"row with prompt {row['prompt'][:40]!r}: {len(row['completions'])} completions but "
            f"{len(targets_per_step)} labels"
        )
    separator = encode_separator(tokenizer, config.step_separator)
    ids = prompt_ids(tokenizer, row["prompt"], separator, config.separate_prompt, config.chat_template)
    targets = [IGNORE] * len(ids)
    next_tokens = [int(IGNORE)] * len(ids)
    last = len(row["completions"]) - 1
    for i, (step, target, good) in enumerate(zip(row["completions"], targets_per_step, row["labels"])):
        step_only = tokenizer(step, add_special_tokens=False)["input_ids"]
        step_ids = step_only + separator
        labelled = not config.train_on_last_step_only or i == last
        ids += step_ids
        targets += [IGNORE] * (len(step_ids) - 1) + [float(target) if labelled else IGNORE]
        next_tokens += (step_only[1:] if good else [int(IGNORE)] * (len(step_only) - 1)) + [int(IGNORE)] * (
            len(separator) + 1
        )
    row = {"input_ids": ids[: config.max_length], "targets": targets[: config.max_length]}
    if config.lm_loss_weight:
        row["next_tokens"] = next_tokens[: config.max_length]
    return row


def collate(rows: list[dict], pad_id: int) -> dict:
    width = max(len(r["input_ids"]) for r in rows)
    batch = {
        "input_ids": torch.tensor([r["input_ids"] + [pad_id] * (width - len(r["input_ids"])) for r in rows]),
        "attention_mask": torch.tensor(
            [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]
        ),
        "targets": torch.tensor([r["targets"] + [IGNORE] * (width - len(r["targets"])) for r in rows]),
    }
    if "next_tokens" in rows[0]:
        batch["next_tokens"] = torch.tensor(
            [r["next_tokens"] + [int(IGNORE)] * (width - len(r["next_tokens"])) for r in rows]
        )
    return batch


class PRMTrainer(Trainer):
    """Trainer whose loss is cross-entropy against the target P(good) at labelled positions, plus
    `lm_loss_weight` times next-token cross-entropy inside good steps (head lm)."""

    def __init__(self, *args, verdict_ids: list[int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.verdict_ids = verdict_ids  # [bad, good] rows of the LM head; None for a 2-label head

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        targets = inputs.pop("targets")
        next_tokens = inputs.pop("next_tokens", None)
        outputs = model(**inputs)
        logits = outputs.logits.float()
        verdict = logits if self.verdict_ids is None else logits[..., self.verdict_ids]
        log_probs = verdict.log_softmax(-1)
        mask = targets != IGNORE
        p = targets[mask]
        loss = -(p * log_probs[..., 1][mask] + (1 - p) * log_probs[..., 0][mask]).mean()
        if next_tokens is not None and (next_tokens != IGNORE).any():
            loss = loss + self.args.lm_loss_weight * F.cross_entropy(
                logits.flatten(0, 1), next_tokens.flatten(), ignore_index=int(IGNORE)
            )
        return (loss, outputs) if return_outputs else loss


def load_rows(args: PRMArguments, soft_labels: bool) -> Dataset:
    """The training rows, from any layout `ponder.data.stepwise` reads (TRL, Math-Shepherd, PRM800K,
    MATH-APS)."""
    rows = load_stepwise(args.dataset, split=args.dataset_split)
    if not rows:
        raise DatasetError(f"dataset: {args.dataset} has no rows")
    columns = ["prompt", "completions", "labels"]
    if soft_labels:
        unlabelled = next((i for i, row in enumerate(rows) if "soft_labels" not in row), None)
        if unlabelled is not None:
            raise DatasetError(
                f"soft_labels: row {unlabelled + 1} of {args.dataset} has no soft labels (only Monte-Carlo "
                "layouts have them)"
            )
        columns.append("soft_labels")
    return Dataset.from_list([{key: row[key] for key in columns} for row in rows])


def build_model(args: PRMArguments, config: PRMConfig):
    name = args.require_model()
    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=args.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    loading = {"dtype": args.torch_dtype(for_training=True), "trust_remote_code": args.trust_remote_code}
    if config.head == "lm":
        model = AutoModelForCausalLM.from_pretrained(name, **loading)
    else:
        model = AutoModelForTokenClassification.from_pretrained(
            name, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1}, **loading
        )
    model.config.pad_token_id = tokenizer.pad_token_id
    if args.use_peft:
        from peft import get_peft_model

        if config.head == "lm":
            lora = args.peft_config("CAUSAL_LM")
        else:
            # The new 2-label head is trained in full (PEFT's modules_to_save for TOKEN_CLS), not adapted.
            lora = args.peft_config("TOKEN_CLS", exclude_modules=["score", "classifier"])
        model = get_peft_model(model, lora)
    return model, tokenizer


def verdict_ids(tokenizer, config: PRMConfig) -> list[int] | None:
    """The [bad, good] token ids whose logits are the verdict of a head-lm PRM (None for token-cls)."""
    if config.head != "lm":
        return None
    ids = [tokenizer.encode(t, add_special_tokens=False) for t in (config.bad_token, config.good_token)]
    for key, text, tokens in zip(("bad_token", "good_token"), (config.bad_token, config.good_token), ids):
        if len(tokens) != 1 or tokens[0] == tokenizer.unk_token_id:
            raise ConfigError(
                f"{key}: {text!r} must be exactly one known token of this tokenizer (got ids {tokens})"
            )
    if ids[0] == ids[1]:
        raise ConfigError("good_token and bad_token must differ")
    return [ids[0][0], ids[1][0]]


def split_questions(rows: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Rows of a random `fraction` of the questions apart from the rest: the held-out questions'
    solutions are never trained on, so the verdict has not memorised their outcomes."""
    prompts = sorted(set(rows["prompt"]))
    held = set(
        torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed))[
            : max(1, round(fraction * len(prompts)))
        ].tolist()
    )
    held_prompts = {prompts[i] for i in held}
    in_held = [p in held_prompts for p in rows["prompt"]]
    return rows.select([i for i, h in enumerate(in_held) if not h]), rows.select(
        [i for i, h in enumerate(in_held) if h]
    )


def step_features(
    model, tokenizer, rows: Dataset, config: PRMConfig, verdict: list[int], batch_size: int = 64
) -> dict[str, torch.Tensor]:
    """At every labelled step of `rows`: the verdict log-odds, the prefix log-likelihood, the least
    token log-probability so far, the token count, the target, the row's question and whether the
    step is the row's last."""
    from tqdm.auto import tqdm

    separator = encode_separator(tokenizer, config.step_separator)
    device = next(model.parameters()).device
    questions = {p: i for i, p in enumerate(sorted(set(rows["prompt"])))}
    out: dict[str, list[torch.Tensor]] = {
        "verdict": [],
        "likelihood": [],
        "least": [],
        "tokens": [],
        "target": [],
        "question": [],
        "last": [],
    }
    model.eval()
    with torch.inference_mode():
        for first in tqdm(range(0, len(rows), batch_size), desc="score features"):
            chunk = [rows[i] for i in range(first, min(first + batch_size, len(rows)))]
            batch = collate([tokenize_row(row, tokenizer, config) for row in chunk], tokenizer.pad_token_id)
            starts = torch.tensor(
                [
                    len(
                        prompt_ids(
                            tokenizer, row["prompt"], separator, config.separate_prompt, config.chat_template
                        )
                    )
                    for row in chunk
                ],
                device=device,
            )
            ids = batch["input_ids"].to(device)
            logits = model(input_ids=ids, attention_mask=batch["attention_mask"].to(device)).logits.float()
            mask = (batch["targets"] != IGNORE).to(device)
            labelled = mask.long().cumsum(-1)
            out["verdict"].append(step_log_odds(logits, ids, starts, verdict, VERDICT_ONLY)[mask].cpu())
            likelihood, least = prefix_lm_features(logits, ids, starts, separator)
            out["likelihood"].append(likelihood[mask].cpu())
            out["least"].append(least[mask].cpu())
            out["tokens"].append(prefix_tokens(ids, starts)[mask].cpu())
            out["target"].append(batch["targets"][mask])
            out["question"].append(
                torch.tensor([questions[r["prompt"]] for r in chunk], device=device)[:, None]
                .expand_as(mask)[mask]
                .cpu()
            )
            out["last"].append((labelled == labelled[:, -1:])[mask].cpu())
    return {k: torch.cat(v).double() for k, v in out.items()}


def fit_score_weights(features: dict[str, torch.Tensor]) -> dict:
    """Weights of sigmoid(verdict · log-odds + likelihood · log-likelihood + least · least token
    log-probability + tokens · count + bias), in two fits:

    1. the weights of the verdict, the likelihood and the least token log-probability by logistic
       regression on pairs of one question's solutions, a right and a wrong final step: the
       comparison search makes, and one where the question's difficulty cancels out (a verdict
       that has learnt only difficulty gets a small weight);
    2. a scale of that combined log-odds, a weight for the number of tokens so far (a sum of
       log-probabilities falls with length whether or not the steps are right, which misleads a
       comparison across questions) and a bias, by logistic regression on the final steps: their
       labels are exact (a finished solution's rollout is itself, so its label is its grade), and
       weighted best-of-N sums final-step scores, so their scale decides how far the PRM
       outweighs a vote. Fitted on every step instead, the noisier labels of unfinished ones
       flattened the scores (and weighted best-of-N with them).
    """

    def lbfgs(params: torch.Tensor, loss_fn) -> list[float]:
        params.requires_grad_(True)
        optimizer = torch.optim.LBFGS([params], max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = loss_fn(params)
            loss.backward()
            return loss

        optimizer.step(closure)
        return params.detach().tolist()

    n, y = features["tokens"], features["target"]
    x = torch.stack([features["verdict"], features["likelihood"], features["least"]], dim=-1)
    last = features["last"].bool()
    good, bad = last & (y >= 0.5), last & (y < 0.5)
    pairs = (features["question"][good][:, None] == features["question"][bad][None, :]).nonzero()
    weights = [1.0, 0.0, 0.0]  # no pair to fit on: the verdict alone
    if len(pairs):
        dx = x[good][pairs[:, 0]] - x[bad][pairs[:, 1]]
        weights = lbfgs(torch.tensor(weights, dtype=torch.float64), lambda w: F.softplus(-(dx @ w)).mean())
    z, n, y = (x @ torch.tensor(weights, dtype=torch.float64))[last], n[last], y[last]
    scale, tokens, bias = lbfgs(
        torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
        lambda p: F.binary_cross_entropy_with_logits(p[0] * z + p[1] * n + p[2], y),
    )
    return {
        "verdict": round(scale * weights[0], 6),
        "likelihood": round(scale * weights[1], 6),
        "least": round(scale * weights[2], 6),
        "tokens": round(tokens, 6),
        "bias": round(bias, 6),
        "pairs": len(pairs),
    }


def run(args: PRMArguments, config: PRMConfig) -> Path:
    """Train, save a folder that the `token-cls` scorer loads in `config.output_dir`; returns it."""
    config = on_device(config, args.resolved_device())
    config.start_run()
    model, tokenizer = build_model(args, config)
    rows = load_rows(args, config.soft_labels)
    held_out = None
    if config.likelihood_score:
        rows, held_out = split_questions(rows, config.score_fit_fraction, config.seed)
    train = rows.map(
        lambda row: tokenize_row(row, tokenizer, config), remove_columns=rows.column_names, desc="tokenize"
    )
    trainer = PRMTrainer(
        model=model,
        args=config,
        train_dataset=train,
        data_collator=lambda b: collate(b, tokenizer.pad_token_id),
        verdict_ids=verdict_ids(tokenizer, config),
    )
    train_resuming(trainer)
    if args.use_peft:
        trainer.model = trainer.model.merge_and_unload()  # the token-cls scorer loads a plain model folder
    weights = None
    if config.likelihood_score:
        # On every process, though only the main one writes the weights: under ZeRO-3 a forward
        # pass gathers the sharded weights, which needs all of them.
        weights = fit_score_weights(
            step_features(trained_model(trainer), tokenizer, held_out, config, verdict_ids(tokenizer, config))
        )
    trainer.save_model(config.output_dir)  # gathers ZeRO-3 shards; writes on the main process only
    if trainer.is_world_process_zero():
        if weights:
            print(
                f"score weights, fitted on {len(held_out)} rows of held-out questions: {weights}", flush=True
            )
        tokenizer.save_pretrained(config.output_dir)
        saved = {
            "step_separator": config.step_separator,
            "separate_prompt": config.separate_prompt,
            "chat_template": config.chat_template,
            "head": config.head,
        }
        if config.head == "lm":
            saved.update(good_token=config.good_token, bad_token=config.bad_token)
        if weights:
            saved["score_weights"] = weights
        Path(config.output_dir, "prm_config.json").write_text(json.dumps(saved))
        finish_wandb(config.report_to, {f"score_weights/{k}": v for k, v in (weights or {}).items()})
    return Path(config.output_dir)


def main(argv: list[str] | None = None) -> Path:
    return run(*parse_config((PRMArguments, PRMConfig), argv, prog="ponder train prm", description=__doc__))


if __name__ == "__main__":
    from ponder.cli import script

    script("ponder train prm", main)
