"""A scripted policy backend, PRM and tokenizer with known outputs, for exact tests of search.

They implement the real interfaces (`Backend.generate`, `PRM.score`, a chat template), so a real
`SearchContext` runs the real strategies on them, without a model.

- `ScriptedBackend(sampled, greedy)`: a prompt's partial solution (the steps after the chat
  prompt) picks the next step. A sampled call (temperature > 0) returns the script's children of
  that partial solution in turn (the k-th request of that partial gets `sampled[...][k]`, cycling);
  a greedy call returns `greedy[...]`. A step containing `\\boxed{` ends the solution (finish
  reason "eos", no separator); any other step ends at the step separator ("stop"). Every
  generation is `TOKENS` tokens long. Keys are `(question, (step, step, ...))`.
- `ScriptedPRM(scores)`: a step's score is `scores[step]` whatever precedes it; it reads
  `PRM_TOKENS` tokens per step scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ponder.infer.backends.base import Generation, Sampling
from ponder.infer.strategies.base import STEP_STOP

TOKENS = 10  # policy tokens per generated step
PRM_TOKENS = 3  # PRM tokens per step scored
POLICY_PARAMETERS = 100
PRM_PARAMETERS = 1000
ASSISTANT = "<|assistant|>"


class ChatTokenizer:
    """The least a tokenizer needs for `build_prompt`: a chat template."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        turns = "".join(f"<|{m['role']}|>{m['content']}" for m in messages)
        return turns + (ASSISTANT if add_generation_prompt else "")


def parse_prompt(prompt: str) -> tuple[str, tuple[str, ...]]:
    """(question, steps so far) of a prompt built by `SearchContext.prompt` with `ChatTokenizer`."""
    head, partial = prompt.split(ASSISTANT, 1)
    question = head.rsplit("<|user|>", 1)[1]
    steps = partial.split(STEP_STOP)
    assert steps[-1] == "", f"a partial solution ends with the step separator: {partial!r}"
    return question, tuple(steps[:-1])


@dataclass
class Call:
    """One `generate` call as the backend saw it."""

    partials: list[tuple[str, tuple[str, ...]]]  # (question, steps) of each prompt, in order
    n: int
    sampling: Sampling


@dataclass
class ScriptedBackend:
    sampled: dict[tuple[str, tuple[str, ...]], list[str]]
    greedy: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)
    num_parameters: int = POLICY_PARAMETERS
    calls: list[Call] = field(default_factory=list)
    requests: dict = field(default_factory=dict)  # how often each partial was sampled from

    def generate(self, prompts: list[str], n: int, sampling: Sampling) -> list[list[Generation]]:
        partials = [parse_prompt(p) for p in prompts]
        self.calls.append(Call(partials, n, sampling))
        return [[self._next(key, sampling.temperature) for _ in range(n)] for key in partials]

    def _next(self, key, temperature: float) -> Generation:
        if temperature == 0:
            step = self.greedy[key]
        else:
            k = self.requests.get(key, 0)
            self.requests[key] = k + 1
            children = self.sampled[key]
            step = children[k % len(children)]
        if "\\boxed{" in step:
            return Generation(step, TOKENS, "eos")
        return Generation(step + STEP_STOP, TOKENS, "stop")

    def prompts_per_call(self) -> list[int]:
        return [len(c.partials) for c in self.calls]


@dataclass
class ScriptedPRM:
    scores: dict[str, float]
    num_parameters: int = PRM_PARAMETERS
    tokens_scored: int = 0
    calls: list[list[list[str]]] = field(default_factory=list)

    def score(self, question: str, step_lists: list[list[str]]) -> list[list[float]]:
        self.calls.append([list(steps) for steps in step_lists])
        self.tokens_scored += PRM_TOKENS * sum(len(steps) for steps in step_lists)
        return [[self.scores[s] for s in steps] for steps in step_lists]
