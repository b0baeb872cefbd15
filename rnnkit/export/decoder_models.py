"""The plans of the encoder-decoder models: :class:`~rnnkit.models.Seq2Seq`,
:class:`~rnnkit.models.ConditionalGenerator` and :class:`~rnnkit.models.ImageCaptioner`.

Each writes ``encoder`` (the source, condition or image -> the decoder's first state and
what it attends over) and ``decoder_step``: the step that greedy decoding and beam search
call, ``(previous token, state, memory, memory_cache, memory_mask) -> (log-probabilities,
new state, attention weights)``. The encoder's outputs carry the names of the decoder step's
inputs; the decoder step's new state comes out as ``<name>_out``. The search itself (beam
bookkeeping, stopping at eos) stays in the caller, as in
:func:`rnnkit.models.beam.beam_search_one`.
"""

from __future__ import annotations

import torch

from ..models.decoder import DecoderState, Memory
from .graphs import (
    Graph,
    Plan,
    Port,
    Wrapper,
    outputs_for,
    parts,
    prepared,
    register_plan,
    state_from,
    state_ports,
)


class _DecoderPorts:
    """The decoder's state and memory ports, and how to flatten and rebuild them."""

    def __init__(self, model):
        """``model``: prepared (its layers are :class:`~rnnkit.export.layer.ExportLayer`)."""
        decoder = model.decoder
        self.attends = decoder.attention is not None
        self.state = state_ports(decoder.rnn, owner="the decoder")
        self.feed = [Port("feed", ("batch", decoder.hidden_size), initial="zeros",
                          meaning="the previous attentional vector (input feeding)")] \
            if self.attends else []
        self.memory: list[Port] = []
        if self.attends:
            keys = decoder.combine.in_features - decoder.hidden_size  # combine: [h; context]
            with torch.no_grad():
                cache = decoder.attention.prepare(torch.zeros(1, 1, keys))
            self.memory.append(Port("memory", ("batch", "source", keys),
                                    meaning="what the decoder attends over"))
            if cache is not None:
                self.memory.append(Port("memory_cache", ("batch", "source", cache.shape[-1]),
                                        meaning="the attention's projection of memory"))
            self.memory.append(Port("memory_mask", ("batch", "source"), "bool",
                                    "True at the valid positions of memory"))

    @property
    def carried(self) -> list[Port]:
        return self.state + self.feed

    def carried_of(self, state: DecoderState) -> tuple:
        return parts(state.rnn) + ((state.feed,) if self.attends else ())

    def flatten(self, state: DecoderState, memory: Memory | None) -> tuple:
        out = self.carried_of(state)
        if self.attends:
            cache = (memory.cache,) if len(self.memory) == 3 else ()
            out += (memory.keys, *cache, memory.mask)
        return out

    def rebuild(self, inputs: tuple) -> tuple[DecoderState, Memory | None]:
        n = len(self.state)
        rnn = state_from(inputs[:n])
        if not self.attends:
            return DecoderState(rnn), None
        feed, rest = inputs[n], inputs[n + 1:]
        cache = rest[1] if len(rest) == 3 else None
        return DecoderState(rnn, feed), Memory(rest[0], rest[-1], cache)


def _decoder_step(model, ports: _DecoderPorts, encoder: Graph) -> Graph:
    """The decoder step graph of ``model`` (prepared in step mode); its example inputs are
    what ``encoder`` makes of its own."""
    tokens = model.decoder.embedding is not None  # else frames (real or binary)
    size = model.decoder.head.out_features
    if tokens:
        first = Port("token", ("batch",), "int64", "the previous token (bos_id at the start)",
                     values=(0, size - 1))
        out = Port("log_probs", ("batch", size), meaning="log-probabilities of the next token")
    else:
        first = Port("frame", ("batch", size), meaning="the previous frame (zeros at the start)")
        out = Port("output", ("batch", size), meaning="the next frame's scores (real values, "
                                                       "or logits of binary units)")
    outputs = [out, *outputs_for(ports.carried, "after this step")]
    if ports.attends:
        outputs.append(Port("weights", ("batch", "source"),
                            meaning="attention weights over memory (0 where masked)"))

    def run(m, previous, *inputs):
        state, memory = ports.rebuild(inputs)
        scores, state, weights = m.decoder.step(previous, state, memory)
        scores = scores.log_softmax(-1) if tokens else scores
        return (scores, *ports.carried_of(state), *((weights,) if ports.attends else ()))

    inputs = [first, *ports.carried, *ports.memory]

    def sample(sizes, generator):
        given = encoder.example(sizes, generator)
        with torch.no_grad():
            made = {**given, **dict(zip([p.name for p in encoder.outputs],
                                        encoder.module(*given.values())))}
        return {p.name: made[p.name] if p.name in made else p.sample(sizes, generator)
                for p in inputs}

    return Graph("decoder_step", Wrapper(model, run), inputs, outputs,
                 "one decoder step, as greedy decoding and beam search call it", sample)


def _encoder_outputs(ports: _DecoderPorts) -> list[Port]:
    return [*ports.carried, *ports.memory]


def seq2seq_plan(model) -> Plan:
    step = prepared(model, "step")
    ports = _DecoderPorts(step)
    seq = prepared(model, lambda name: "step" if name.startswith("decoder") else "sequence")
    vocab = model.encoder.embedding.num_embeddings

    def run(m, source, lengths):
        memory, state = m.encode(source, lengths)
        return ports.flatten(state, memory)

    encoder = Graph(
        "encoder", Wrapper(seq, run),
        [Port("source", ("batch", "source"), "int64", "source token ids", (0, vocab - 1)),
         Port("lengths", ("batch",), "int64", "valid tokens of each source", (1, "source"))],
        _encoder_outputs(ports), "the source -> the decoder's first state and memory")
    return Plan([encoder, _decoder_step(step, ports, encoder)])


def generator_plan(model) -> Plan:
    step = prepared(model, "step")  # the only recurrent layer is the decoder's
    ports = _DecoderPorts(step)
    inputs = [Port("condition", ("batch", model.init.in_features),
                   meaning="the condition vector")]
    cached = [p for p in ports.memory if p.name == "memory_cache"]
    if cached:  # memory and its mask are the caller's; only the cache is made here
        inputs.append(Port("memory", ports.memory[0].shape, meaning="features to attend over"))

    def run(m, c, *memory):
        if ports.attends and not memory:  # nothing to precompute, but encode() wants memory
            memory = (c.new_zeros(c.shape[0], 1, ports.memory[0].shape[-1]),)
        state, mem = m.encode(c, *memory)
        return ports.carried_of(state) + ((mem.cache,) if cached else ())

    encoder = Graph("encoder", Wrapper(step, run), inputs, ports.carried + cached,
                    "the condition -> the decoder's first state (and the memory's cache)")
    return Plan([encoder, _decoder_step(step, ports, encoder)])


def captioner_plan(model) -> Plan:
    step = prepared(model, "step")  # the only recurrent layer is the decoder's
    ports = _DecoderPorts(step)
    size = model._config["image_size"]  # (get_config refuses a custom encoder module)

    def run(m, image):
        c, memory = m.features(image)  # (B, F), (B, S, K)
        state, mem = m.encode(c, memory if ports.attends else None)
        return ports.flatten(state, mem)

    h, w = model.feature_shape
    encoder = Graph(
        "encoder", Wrapper(step, run),
        [Port("image", ("batch", 3, size, size), "uint8", "RGB pixels in [0, 255]")],
        [p if p.name != "memory" else Port("memory", ("batch", h * w, p.shape[-1]), meaning=(
            f"the image's feature map, {h}x{w} positions row by row")) for p in
         _encoder_outputs(ports)],
        "the image -> the decoder's first state and the feature map it attends over")
    return Plan([encoder, _decoder_step(step, ports, encoder)])


register_plan("Seq2Seq", seq2seq_plan)
register_plan("ConditionalGenerator", generator_plan)
register_plan("ImageCaptioner", captioner_plan)
