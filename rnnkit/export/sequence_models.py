"""The plans of the models that read one sequence: classifier and regressor (and the
classifiers' ensemble), tagger, language models, forecasters (and their ensemble), and the
feed-forward baseline.

Each writes ``sequence`` (the whole sequence with ``lengths``) and, where the model can be
run one step at a time (unidirectional), ``step``: one step with the recurrent state in and
out, so that iterating it over a sequence gives the sequence graph's outputs.
"""

from __future__ import annotations

import dataclasses
import functools

import torch
from torch import Tensor

from ..models.classifier import PooledOutput
from .graphs import (
    LENGTHS,
    Graph,
    Plan,
    Port,
    Wrapper,
    outputs_for,
    parts,
    prepared,
    register_plan,
    sequence_input,
    state_from,
    state_ports,
)

BIDIRECTIONAL = ("bidirectional: the backward direction reads the whole sequence, so the "
                 "model cannot be run one step at a time")


# --- classifier and regressor: a pooled sequence --------------------------------------------

def _pool_last(pool, y: Tensor, states):
    return y, ()


def _pool_mean(pool, y: Tensor, states):
    total, count = states  # (B, H), (B, 1)
    total, count = total + y, count + 1
    return total / count, (total, count)


def _pool_attention(pool, y: Tensor, states):
    """Online softmax over the steps so far: running max, sum of exponentials, weighted sum
    of outputs (the pooled vector is their ratio)."""
    top, total, acc = states  # (B, 1), (B, 1), (B, H)
    score = (torch.tanh(pool.proj(y)) @ pool.query).unsqueeze(-1)  # (B, 1)
    new_top = torch.maximum(top, score)
    old, new = torch.exp(top - new_top), torch.exp(score - new_top)
    total, acc = total * old + new, acc * old + new * y
    return acc / total, (new_top, total, acc)


def _pool_ports(pooling: str, size: int) -> list[Port]:
    if pooling == "mean":
        return [Port("pool_sum", ("batch", size), meaning="sum of the outputs so far",
                     initial="zeros"),
                Port("pool_count", ("batch", 1), meaning="steps so far", initial="zeros",
                     positive=True)]
    if pooling == "attention":
        return [Port("pool_max", ("batch", 1), meaning="largest attention score so far",
                     initial="-inf"),
                Port("pool_sum", ("batch", 1), initial="zeros", positive=True,
                     meaning="sum of exp(score - pool_max) over the steps so far"),
                Port("pool_acc", ("batch", size), initial="zeros",
                     meaning="sum of exp(score - pool_max) * output over the steps so far")]
    return []


POOL_STEPS = {"last": _pool_last, "mean": _pool_mean, "attention": _pool_attention}


def pooled_plan(model, *, output: str, meaning: str) -> Plan:
    pooling = model.get_config()["pooling"]
    size = model.head.out_features
    seq = prepared(model, "sequence")
    outputs = [Port(output, ("batch", size), meaning=meaning)]
    if pooling == "attention":
        outputs.append(Port("weights", ("batch", "time"),
                            meaning="attention pooling weights over the steps (0 past each "
                                    "length)"))

    def run(m, x, lengths):
        out = m(x, lengths)
        return (out.logits, out.weights) if pooling == "attention" else (out.logits,)

    graphs = [Graph("sequence", Wrapper(seq, run),
                    [sequence_input(seq.encoder), LENGTHS], outputs,
                    f"{meaning} of whole sequences ({pooling} pooling)")]
    if seq.encoder.directions > 1:
        return Plan(graphs, {"step": BIDIRECTIONAL})
    step = prepared(model, "step")
    rnn_ports = state_ports(step.encoder.rnn, owner="the encoder")
    pool_ports = _pool_ports(pooling, step.encoder.output_size)
    n, pool_step = len(rnn_ports), POOL_STEPS[pooling]

    def run_step(m, x_t, *states):
        out, rnn = m.encoder(x_t.unsqueeze(1), None, state_from(states[:n]))  # (B, 1, H)
        pooled, pool = pool_step(m.pool, out[:, 0], states[n:])
        return (m.head(m.dropout(pooled)), *parts(rnn), *pool)

    state = rnn_ports + pool_ports
    graphs.append(Graph(
        "step", Wrapper(step, run_step),
        [sequence_input(step.encoder, "x", step=True), *state],
        [Port(output, ("batch", size), meaning=f"{meaning} of the sequence so far"),
         *outputs_for(state, "after this step")],
        f"one step: {meaning} of the sequence read so far, the state carried in and out"))
    return Plan(graphs)


def classifier_ensemble_plan(model) -> Plan:
    """:class:`~rnnkit.models.ClassifierEnsemble`: ``logits`` are the log of the members'
    mean class probabilities (as the model's ``forward``); the step graph carries every
    member's state, its ports prefixed ``m<i>.``."""
    first = model.members[0]
    pooling, size = first.get_config()["pooling"], first.head.out_features
    seq = prepared(model, "sequence")
    meaning = "log of the members' mean class probabilities (class scores)"
    outputs = [Port("logits", ("batch", size), meaning=meaning)]
    if pooling == "attention":
        outputs.append(Port("weights", ("batch", "time"),
                            meaning="the members' mean attention pooling weights over the "
                                    "steps (0 past each length)"))

    def run(m, x, lengths):
        out = m(x, lengths)
        return (out.logits, out.weights) if pooling == "attention" else (out.logits,)

    graphs = [Graph("sequence", Wrapper(seq, run),
                    [sequence_input(seq.members[0].encoder), LENGTHS], outputs,
                    f"{meaning} of whole sequences ({pooling} pooling)")]
    if first.encoder.directions > 1:
        return Plan(graphs, {"step": BIDIRECTIONAL})
    step = prepared(model, "step")
    pool_step = POOL_STEPS[pooling]
    ports = []  # per member: (its rnn ports, its pool ports)
    for i, member in enumerate(step.members):
        rnn = state_ports(member.encoder.rnn, f"m{i}.", f"the encoder of member {i}")
        pool = [dataclasses.replace(p, name=f"m{i}.{p.name}")
                for p in _pool_ports(pooling, member.encoder.output_size)]
        ports.append((rnn, pool))

    def run_step(m, x_t, *states):
        outs, new, k = [], [], 0
        for member, (rnn_ports, pool_ports) in zip(m.members, ports):
            n, p = len(rnn_ports), len(pool_ports)
            out, rnn = member.encoder(x_t.unsqueeze(1), None, state_from(states[k:k + n]))
            pooled, pool = pool_step(member.pool, out[:, 0], states[k + n:k + n + p])
            outs.append(PooledOutput(member.head(member.dropout(pooled))))
            new += [*parts(rnn), *pool]
            k += n + p
        return (m.combine(outs).logits, *new)

    state = [p for rnn, pool in ports for p in (*rnn, *pool)]
    graphs.append(Graph(
        "step", Wrapper(step, run_step),
        [sequence_input(step.members[0].encoder, "x", step=True), *state],
        [Port("logits", ("batch", size), meaning=f"{meaning} of the sequence so far"),
         *outputs_for(state, "after this step")],
        f"one step: {meaning} of the sequence read so far, every member's state carried in "
        "and out"))
    return Plan(graphs)


register_plan("ClassifierEnsemble", classifier_ensemble_plan)
register_plan("SequenceClassifier", functools.partial(
    pooled_plan, output="logits", meaning="class scores"))
register_plan("SequenceRegressor", functools.partial(
    pooled_plan, output="predictions", meaning="predicted values"))


# --- per-step outputs: tagger, language models ----------------------------------------------

def stepwise_plan(model, *, meaning: str) -> Plan:
    """Models called as ``forward(x, lengths, state) -> (logits (B, T, C), state)``."""
    seq = prepared(model, "sequence")
    size = model.head.out_features
    rnn_ports = state_ports(seq.encoder.rnn, owner="the encoder")

    def run(m, x, lengths):
        out = m(x, lengths)
        return (out.logits, *parts(out.state))

    graphs = [Graph("sequence", Wrapper(seq, run), [sequence_input(seq.encoder), LENGTHS],
                    [Port("logits", ("batch", "time", size),
                          meaning=f"{meaning} at every step (steps past each length are "
                                  "padding)"),
                     *outputs_for(rnn_ports, "after each sequence's last valid step")],
                    f"{meaning} at every step of whole sequences")]
    if seq.encoder.directions > 1:
        return Plan(graphs, {"step": BIDIRECTIONAL})
    step = prepared(model, "step")

    def run_step(m, x_t, *state):
        out = m(x_t.unsqueeze(1), None, state_from(state))
        return (out.logits[:, 0], *parts(out.state))

    graphs.append(Graph(
        "step", Wrapper(step, run_step),
        [sequence_input(step.encoder, "x", step=True), *rnn_ports],
        [Port("logits", ("batch", size), meaning=f"{meaning} after this step"),
         *outputs_for(rnn_ports, "after this step")],
        f"one step: {meaning}, the state carried in and out"))
    return Plan(graphs)


register_plan("SequenceTagger", functools.partial(stepwise_plan, meaning="tag scores"))
register_plan("LanguageModel", functools.partial(
    stepwise_plan, meaning="scores of the next token"))
register_plan("PianoRollLM", functools.partial(
    stepwise_plan, meaning="logits of each unit of the next frame"))


# --- forecasters -----------------------------------------------------------------------------

def _forecast(model, h_n, last: Tensor, future: Tensor | None = None):
    """The forecast from the encoder's state ``h_n`` after the window's last step ``last``
    (B, input_size), as :meth:`Forecaster.forward` makes it in evaluation: a linear head
    (direct) or the decoder rolled out feeding back its point forecast (autoregressive);
    ``future`` (B, horizon, J): the horizon's covariates, beside the state in the head or
    beside the fed-back point at each decoder step."""
    B, H, F, P = last.shape[0], model.horizon, model.output_size, model.out.n_params
    if model.mode == "direct":
        h = model.dropout(model.encoder.final_hidden(h_n))  # (B, hidden)
        if future is not None:
            h = torch.cat([h, future.reshape(B, -1)], dim=-1)  # (B, hidden + H * J)
        params = model.head(h)
    else:
        x, state, outs = last[:, :F], model.decoder.start(h_n), []
        for i in range(H):
            u = x if future is None else torch.cat([x, future[:, i]], dim=-1)  # (B, F + J)
            out, state, _ = model.decoder.step(u, state)  # (B, F * P)
            outs.append(out)
            x = model.out.point(out.view(B, F, P))  # (B, F)
        params = torch.stack(outs, dim=1)
    f = model.out.summary(params.view(B, H, F, P))
    return tuple(t for t in (f.point, f.quantiles, f.std) if t is not None)


def _forecast_ports(model, when: str) -> list[Port]:
    dims = ("batch", model.horizon, model.output_size)
    kind = model.get_config()["output"]
    ports = [Port("point", dims, meaning=f"point forecast {when} (mean, or median of the "
                                         "quantiles)")]
    if kind == "quantile":
        levels = ", ".join(f"{q:g}" for q in model.out.levels)
        ports.append(Port("quantiles", (*dims, len(model.out.levels)),
                          meaning=f"forecast quantiles at levels {levels} {when}"))
    elif kind == "gaussian":
        ports.append(Port("std", dims, meaning=f"forecast standard deviation {when}"))
    return ports


def _last_valid(x: Tensor, lengths: Tensor) -> Tensor:
    return x[torch.arange(x.shape[0], device=x.device), lengths.clamp_min(1) - 1]  # (B, I)


def forecaster_plan(model, *, members, prefixed: bool) -> Plan:
    """``members(model)``: the forecasters whose forecasts are averaged (the model itself,
    or an ensemble's members); ``prefixed``: their state ports are named ``m<i>.h`` ..."""
    seq = prepared(model, lambda name: "step" if "decoder" in name.split(".") else "sequence")
    step = prepared(model, "step")
    seq_members, step_members = members(seq), members(step)
    states = [state_ports(m.encoder.rnn, f"m{i}." if prefixed else "",
                          f"the encoder of member {i}" if prefixed else "the encoder")
              for i, m in enumerate(step_members)]
    counts = [len(s) for s in states]

    def average(fields: list[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
        if len(fields) == 1:
            return fields[0]
        return tuple(torch.stack(f).mean(0) for f in zip(*fields))  # quantile averaging

    j = getattr(model, "covariates", 0)  # J covariates known over the horizon
    future = [Port("future", ("batch", model.horizon, j), meaning="the covariates of the "
                   "forecast's horizon, scaled as those in x")] if j else []

    def run(m, x, lengths, *ahead):
        fields, finals = [], []
        for member in seq_members:
            _, h_n = member.encoder(x, lengths)
            fields.append(_forecast(member, h_n, _last_valid(x, lengths), *ahead))
            finals += parts(h_n)
        return (*average(fields), *finals)

    def run_step(m, x_t, *inputs):
        ahead, state = inputs[:len(future)], inputs[len(future):]
        fields, finals, k = [], [], 0
        for member, n in zip(step_members, counts):
            _, h = member.encoder(x_t.unsqueeze(1), None, state_from(state[k:k + n]))
            fields.append(_forecast(member, h, x_t, *ahead))
            finals += parts(h)
            k += n
        return (*average(fields), *finals)

    flat = [p for s in states for p in s]
    mean = " (the members' mean)" if prefixed else ""
    first, size = step_members[0], step_members[0].encoder.rnn.input_size
    return Plan([
        Graph("sequence", Wrapper(seq, run),
              [Port("x", ("batch", "time", size),
                    meaning="windows, scaled as the run's data layer scales them"), LENGTHS,
               *future],
              [*_forecast_ports(first, "after each window" + mean),
               *outputs_for(flat, "after each window's last valid step")],
              "the forecast after whole windows"),
        Graph("step", Wrapper(step, run_step),
              [Port("x", ("batch", size), meaning="the next observation, scaled"), *future,
               *flat],
              [*_forecast_ports(first, "after this step" + mean),
               *outputs_for(flat, "after this step")],
              "one step of a stream: the forecast made after it, the state in and out"),
    ])


register_plan("Forecaster", functools.partial(
    forecaster_plan, members=lambda m: [m], prefixed=False))
register_plan("ForecastEnsemble", functools.partial(
    forecaster_plan, members=lambda m: list(m.members), prefixed=True))


# --- no recurrence ---------------------------------------------------------------------------

def feedforward_plan(model) -> Plan:
    first = model.net[0]
    ports = [Port("x", ("batch", first.in_features), meaning="input features (a (T, F) "
                                                             "window flattened to T*F)")]
    out = Port("output", ("batch", model.net[-1].out_features),
               meaning="class scores" if model.task == "classification" else "predictions")
    return Plan([Graph("model", Wrapper(prepared(model, "sequence"), lambda m, x: (m(x),)),
                       ports, [out], "the whole model (no recurrence)")],
                {"step": "no recurrence: the model reads its whole input at once"})


register_plan("FeedForward", feedforward_plan)
