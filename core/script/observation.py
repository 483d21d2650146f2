"""The observation vector that learning proposers feed to their networks.

One function, :func:`encode`, so that every learner sees the same numbers. Every entry is in
[0, 1], as the design document advises (unnormalised ranges destabilise the first policy
updates):

- each schema field: a presence bit, then its value -- integers and reals scaled to [0, 1]
  over the schema's range (log scale for learning rate, weight decay, gradient clip and heads),
  categorical and enumerated fields one-hot, booleans 0/1; an absent field is all zeros;
- each of the 32 history slots, oldest first, padded with zeros: a presence bit, how close the
  result came to the best (best/value when minimising, value/best when maximising, clipped to
  [0, 1]; 0 for failures), the fraction of the budget used, the early-stop bit, and the outcome
  one-hot;
- then, after the fixed part, two entries per declared knob of the observation's space, in
  ``[space]`` order: a presence bit and the value scaled over the knob's own domain.

The encoding is versioned (``OBSERVATION_VERSION``; docs/actions.md keeps the change log): a
learner's weights are only meaningful for the encoding they were trained on. Version 2 keeps
version 1's fixed layout (so saved policies load) and changes two things: a value the design
document's ordered choices lack (width 768) is spread over its two neighbours (0.5 on 512 and
on 1024) instead of encoding as absent, and knob slots are appended. Version 3 keeps version 2's
vector and adds a second one, per candidate move (:func:`encode_attribution`): what the last
move on the same field did, for a learner that remembers which move produced which program.
"""

from __future__ import annotations

import math

import attrs

from arrl.records import Direction, HistoryEntry, Observation, Outcome
from arrl.schema import FIELDS, HISTORY_WINDOW, Field

from .space import Space

OBSERVATION_VERSION = 3

# Weight decay may be 0: its log scale starts here.
_LOG_FLOOR = 1e-6
# The outcome one-hot's slots, fixed: a saved policy's weights (and the shipped prior) are for
# this layout. A no-effect result is an ``ok`` one that changed nothing: it fills ``ok``'s slot and
# reads as "flat" in the attribution features.
_OUTCOMES = (Outcome.OK, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.REJECTED, Outcome.EARLY_STOPPED,
             Outcome.DUPLICATE, Outcome.INTERRUPTED)
_AS_SLOT = {Outcome.NO_EFFECT: Outcome.OK}


def _width(field: Field) -> int:
    return len(field.choices) if field.kind == "choice" else 1


FIELD_SIZE = sum(1 + _width(f) for f in FIELDS)
SLOT_SIZE = 4 + len(_OUTCOMES)
OBSERVATION_SIZE = FIELD_SIZE + HISTORY_WINDOW * SLOT_SIZE  # the fixed part, without knobs
KNOB_SIZE = 2


def observation_size(space: Space | None = None) -> int:
    """The length of :func:`encode`'s vector for observations of ``space``."""
    return OBSERVATION_SIZE + KNOB_SIZE * (len(space.knobs) if space is not None else 0)


def _clip(x: float) -> float:
    return min(max(x, 0.0), 1.0) if math.isfinite(x) else 0.0


def _scaled(field: Field, value: float) -> float:
    assert field.low is not None and field.high is not None
    if field.log or field.name == "attention_heads":
        low, high = max(field.low, _LOG_FLOOR), field.high
        return _clip((math.log(max(value, low)) - math.log(low)) / (math.log(high) - math.log(low)))
    return _clip((value - field.low) / (field.high - field.low))


def encode_config(config: dict, editable: tuple[str, ...] | None = None) -> list[float]:
    vector: list[float] = []
    present = set(config if editable is None else editable)
    for field in FIELDS:
        value = config.get(field.name)
        if field.name not in present or value is None:
            vector += [0.0] * (1 + _width(field))
            continue
        vector.append(1.0)
        if field.kind == "choice":
            vector += _one_hot(field, value)
        elif field.kind == "bool":
            vector.append(1.0 if value else 0.0)
        else:
            vector.append(_scaled(field, float(value)))
    return vector


def _one_hot(field: Field, value: object) -> list[float]:
    hot = [1.0 if value == choice and type(value) is not bool else 0.0 for choice in field.choices]
    if any(hot) or not field.ordinal or isinstance(value, bool) or not isinstance(value, (int, float)):
        return hot
    # An ordered value between two design choices: spread over both neighbours (linear in log
    # space, as widths and batch sizes are), saturating at the ends.
    numbers = [float(c) for c in field.choices]  # type: ignore[arg-type]
    if value <= numbers[0]:
        hot[0] = 1.0
    elif value >= numbers[-1]:
        hot[-1] = 1.0
    else:
        upper = next(i for i, c in enumerate(numbers) if c > value)
        low, high = numbers[upper - 1], numbers[upper]
        weight = (math.log(value) - math.log(low)) / (math.log(high) - math.log(low)) if low > 0 else (
            (value - low) / (high - low))
        hot[upper - 1], hot[upper] = 1.0 - weight, weight
    return hot


def _knob_value(field: Field, value: object) -> float:
    if field.kind == "bool":
        return 1.0 if value else 0.0
    if field.kind == "choice":
        if value not in field.choices or len(field.choices) < 2:
            return 0.0
        return field.choices.index(value) / (len(field.choices) - 1)  # type: ignore[arg-type]
    if not isinstance(value, (int, float)) or field.low is None or field.high is None or field.high <= field.low:
        return 0.0
    if field.log and field.low > 0:
        return _clip((math.log(max(value, field.low)) - math.log(field.low)) / (math.log(field.high) - math.log(field.low)))
    return _clip((value - field.low) / (field.high - field.low))


def encode_knobs(observation: Observation) -> list[float]:
    """Two entries per knob of the observation's space: presence, scaled value."""
    vector: list[float] = []
    if observation.space is None:
        return vector
    present = set(observation.config if observation.editable is None else observation.editable)
    for field in observation.space.knobs:
        value = observation.config.get(field.name)
        if field.name not in present or value is None:
            vector += [0.0, 0.0]
        else:
            vector += [1.0, _knob_value(field, value)]
    return vector


def _closeness(entry: HistoryEntry, best: float | None, direction: Direction) -> float:
    value = entry.val_loss
    if best is None or not math.isfinite(value) or entry.outcome not in (Outcome.OK, Outcome.NO_EFFECT,
                                                                          Outcome.EARLY_STOPPED):
        return 0.0
    if value == best:
        return 1.0
    if best <= 0 or value <= 0:  # ratios need positive numbers: fall back to a rank-like score
        return 1.0 if not direction.better(best, value) else 0.5
    return _clip(best / value if direction is Direction.MINIMIZE else value / best)


def encode(observation: Observation, budget_seconds: float) -> list[float]:
    """The vector (``observation_size(observation.space)`` entries, all in [0, 1]) of an
    observation: ``OBSERVATION_SIZE`` fixed entries, then the knob slots."""
    vector = encode_config(observation.config, observation.editable)
    history = list(observation.history)[-HISTORY_WINDOW:]
    for entry in history:
        vector += [
            1.0,
            _closeness(entry, observation.best_value, observation.direction),
            _clip(entry.wall_clock_seconds / budget_seconds) if budget_seconds > 0 else 0.0,
            1.0 if entry.early_stopped else 0.0,
            *[1.0 if _AS_SLOT.get(entry.outcome, entry.outcome) is outcome else 0.0 for outcome in _OUTCOMES],
        ]
    vector += [0.0] * (SLOT_SIZE * (HISTORY_WINDOW - len(history)))
    return vector + encode_knobs(observation)


# -- move-to-result attribution (version 3) ---------------------------------------------------
# What the history slots cannot say: which move produced which result. A proposer that remembers
# the move behind each program it proposed (``Lineage``) gets, per candidate move, what the last
# move on the same field did: paid, hurt, crashed or changed nothing, in the same direction (or to
# the same value) or the other way. Scored with weights shared by every move, these features let
# one policy learn a search strategy -- go on where a step paid, turn back from what hurt, back
# off what crashed -- that carries over to fields and objectives it never saw, where per-field
# weights only learn which moves paid on average.
ATTRIBUTION_FEATURES = (
    "paid_same", "paid_other", "hurt_same", "hurt_other", "failed_same", "failed_other",
    "flat", "untouched", "recent", "gain",
)
# "gain": how far the field's last result moved from the best it was measured against, relative
# to that best; a change of _GAIN_SCALE or more saturates at 1.
_GAIN_SCALE = 0.1
# How many noise floors a result must move by to count as paying or hurting: within it, "flat".
ATTRIBUTION_NOISE_SIGMAS = 2.0
# "recent": the field's last event was among the last few experiments (decays with age).
_RECENT_HALF_LIFE = 4.0


@attrs.frozen
class Attributed:
    """The move behind a proposed program, and the best value it was measured against."""

    field: str
    direction: str  # "up", "down" or "switch"
    target: object | None
    parent_value: float | None


Lineage = dict  # config hash of a proposed program -> Attributed


def _result(entry: HistoryEntry, parent: float | None, direction: Direction, noise: float | None) -> str:
    if entry.outcome is Outcome.NO_EFFECT:
        return "flat"
    if entry.outcome not in (Outcome.OK, Outcome.EARLY_STOPPED):
        return "failed" if entry.outcome in (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.REJECTED) else "none"
    if entry.early_stopped:
        return "hurt"
    if parent is None or not math.isfinite(entry.val_loss) or not math.isfinite(parent):
        return "flat"
    margin = ATTRIBUTION_NOISE_SIGMAS * noise if noise else 0.0
    if abs(entry.val_loss - parent) <= margin:
        return "flat"
    return "paid" if direction.better(entry.val_loss, parent) else "hurt"


def encode_attribution(observation: Observation, lineage: Lineage, moves: list) -> list[float]:
    """``len(ATTRIBUTION_FEATURES)`` entries per move of ``moves`` (objects with ``field``,
    ``direction`` and ``target``), in order: what the last attributed move on the move's field
    did, as seen in the observation's history. All entries in [0, 1]."""
    last: dict[str, tuple[Attributed, str, int, float]] = {}
    history = list(observation.history)
    for age, entry in enumerate(reversed(history)):
        move = lineage.get(entry.config_hash)
        if move is None or move.field in last:
            continue
        result = _result(entry, move.parent_value, observation.direction, observation.noise_floor)
        if result != "none":
            parent = move.parent_value
            gain = 1.0 if result == "failed" else 0.0
            if result in ("paid", "hurt") and parent and math.isfinite(parent):
                gain = _clip(abs(entry.val_loss - parent) / abs(parent) / _GAIN_SCALE)
            last[move.field] = (move, result, age, gain)
    vector: list[float] = []
    for candidate in moves:
        features = dict.fromkeys(ATTRIBUTION_FEATURES, 0.0)
        event = last.get(candidate.field)
        if event is None:
            features["untouched"] = 1.0
        else:
            move, result, age, gain = event
            features["gain"] = gain
            same = move.direction == candidate.direction and (
                move.direction != "switch" or move.target == candidate.target)
            if result == "flat":
                features["flat"] = 1.0
            else:
                features[f"{result}_{'same' if same else 'other'}"] = 1.0
            features["recent"] = 0.5 ** (age / _RECENT_HALF_LIFE)
        vector += [features[name] for name in ATTRIBUTION_FEATURES]
    return vector
