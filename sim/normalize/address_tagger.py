"""usaddress's model, applied to many addresses at once.

``usaddress.parse`` tags one address a call: it builds each token's features as Python dicts,
python-crfsuite turns them into attribute strings and looks each up, and crfsuite runs Viterbi.
That conversion, not the model, is most of the time (44 of 64 us an address). Here the model
usaddress ships (``usaddr.crfsuite``) is read once and applied in bulk:

* **the model**: its labels and attribute names from crfsuite's own dump
  (``Tagger.dump``), its weights bit for bit from the binary file (crfsuite's ``FEAT`` chunk:
  type, source, destination, float64 weight, little-endian, 20 bytes each), checked against the
  dump's rounded weights;
* **the features**: each distinct token's attributes are usaddress's ``tokenFeatures``, named as
  python-crfsuite names them (``key`` for True, ``key:value`` for a string; False is value 0 and
  adds nothing), once per token, as rows of the weight matrix, also under the ``previous:`` and
  ``next:`` prefixes a neighbour reads them with;
* **the tagging** (:func:`_viterbi`, compiled with numba): each token's state scores are summed
  in the order crfsuite sums them (the item's attributes in ``tokens2features`` order: the
  token's own, the previous token's, the next token's, the start and end marks), so the float64
  sums are crfsuite's (a label an attribute has no feature for gets 0.0 added, which changes no
  sum), and Viterbi keeps the first of equal scores as crfsuite does
  (``crf1dc_viterbi``). The labels are then usaddress's own: a test compares them with
  ``usaddress.parse`` on every address text of a world.

>>> tag(["12 OAK ST RENO NV 89501"])[0][:3]
[('12', 'AddressNumber'), ('OAK', 'StreetName'), ('ST', 'StreetNamePostType')]
"""

from __future__ import annotations

import re
import struct
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numba import njit

_HEADER = struct.Struct("<4sI4sIIIIIIIII")       # crf1d_model.c header_t, 48 bytes
_CHUNK = struct.Struct("<4sII")                  # chunk id, size, number of items
_FEATURE = np.dtype([("type", "<u4"), ("src", "<u4"), ("dst", "<u4"), ("weight", "<f8")])   # packed, 20 bytes
_DUMP_LINE = re.compile(r"^\s+(\d+): (.*)$", re.DOTALL)
_ENTRY = re.compile(r"^  +(\d+: |\(\d\) )")
_DUMP_FEATURE = re.compile(r"^\s+\((\d)\) (.*) --> (.*): (-?[\d.]+)$", re.DOTALL)


@dataclass(frozen=True)
class Model:
    """usaddress's CRF: ``weights[row, label]`` of each attribute, ``transitions[from, to]``."""

    labels: tuple[str, ...]
    rows: dict[str, int]           # attribute name -> row of ``weights``
    weights: np.ndarray            # float64 (attributes, labels); 0 where no feature
    transitions: np.ndarray        # float64 (labels, labels)


@lru_cache(maxsize=1)
def model() -> Model:
    """usaddress's model file, read (once per process) and checked."""
    import usaddress

    path = Path(usaddress.MODEL_PATH)
    data = path.read_bytes()
    (magic, size, kind, version, _, n_labels, n_attrs, off_features, *_) = _HEADER.unpack_from(data, 0)
    if (magic, kind, version, size) != (b"lCRF", b"FOMC", 100, len(data)):
        raise ValueError(f"{path} is not a crfsuite CRF1d model of version 100 ({magic!r}, {kind!r}, {version}, "
                         f"{size} of {len(data)} bytes); the address tagger reads no other")
    chunk, _, n_features = _CHUNK.unpack_from(data, off_features)
    if chunk != b"FEAT":
        raise ValueError(f"{path}: no feature chunk at offset {off_features}")
    features = np.frombuffer(data, _FEATURE, n_features, off_features + _CHUNK.size)
    labels, attributes, dumped = _dump(usaddress.TAGGER)
    if (len(labels), len(attributes)) != (n_labels, n_attrs):
        raise ValueError(f"{path}: the dump lists {len(labels)} labels and {len(attributes)} attributes, "
                         f"the header {n_labels} and {n_attrs}")
    weights = np.zeros((n_attrs, n_labels))
    transitions = np.zeros((n_labels, n_labels))
    named = {}
    for f in features:
        kind_, src, dst, weight = int(f["type"]), int(f["src"]), int(f["dst"]), float(f["weight"])
        if kind_ == 0:
            weights[src, dst] = weight
            named[(0, attributes[src], labels[dst])] = weight
        else:
            transitions[src, dst] = weight
            named[(1, labels[src], labels[dst])] = weight
    # the binary weights, rounded, are the dump's: the file was read as crfsuite reads it
    if named.keys() != dumped.keys() or any(abs(named[k] - dumped[k]) > 5e-7 for k in named):
        raise ValueError(f"{path}: the weights read from the file differ from crfsuite's dump of it")
    return Model(tuple(labels), {name: i for i, name in enumerate(attributes)}, weights, transitions)


def _dump(tagger) -> tuple[list[str], list[str], dict[tuple, float]]:
    """(labels, attribute names, {(type, from, to): rounded weight}) from crfsuite's dump."""
    with tempfile.TemporaryDirectory(prefix="matchsim-crf-") as tmp:
        target = Path(tmp) / "model.txt"
        tagger.dump(str(target))
        text = target.read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.split("\n"):
        if line.endswith(" = {"):
            current = sections.setdefault(line[:-4], [])
        elif line == "}":
            current = None
        elif current is not None and (_ENTRY.match(line) or not current):
            current.append(line)
        elif current is not None:          # a name holding a newline (an attribute "endsinpunc:\n")
            current[-1] += "\n" + line
    def numbered(name):
        return [m.group(2) for m in map(_DUMP_LINE.match, sections[name])]
    dumped = {}
    for line in sections["TRANSITIONS"] + sections["STATE_FEATURES"]:
        m = _DUMP_FEATURE.match(line)
        dumped[(int(m.group(1)), m.group(2), m.group(3))] = float(m.group(4))
    return numbered("LABELS"), numbered("ATTRIBUTES"), dumped


@lru_cache(maxsize=1 << 18)
def _token_rows(token: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The weight rows of a token's own attributes, and of the same read as its neighbour's
    (``previous:``, ``next:``), in usaddress's feature order; attributes the model has not are
    left out, as crfsuite leaves them out."""
    import usaddress

    rows = model().rows
    names = []
    for key, value in usaddress.tokenFeatures(token).items():
        if value is True:
            names.append(key)
        elif isinstance(value, str):
            names.append(f"{key}:{value}")
        elif value is not False:       # pragma: no cover - usaddress's features are bools and strings
            raise TypeError(f"usaddress feature {key}={value!r} of {token!r} is neither a bool nor a string")
    return tuple(tuple(rows[p + n] for n in names if p + n in rows) for p in ("", "previous:", "next:"))


def tag(texts: list[str]) -> list[list[tuple[str, str]] | None]:
    """``usaddress.parse`` of each text ((token, label) pairs), or None where usaddress would
    raise on it (a token that is only punctuation)."""
    import usaddress

    m = model()
    marks = [m.rows.get(name, -1) for name in ("address.start", "address.end", "previous:address.start", "next:address.end")]
    start, end, previous_start, next_end = ([r] if r >= 0 else [] for r in marks)
    tokens_of: list[list[str] | None] = []
    rows: list[int] = []
    item_start = [0]
    seq_start = [0]
    for text in texts:
        tokens = usaddress.tokenize(text)
        try:
            own = [_token_rows(t) for t in tokens]
        except Exception:  # noqa: BLE001 - usaddress's own features raise on such a token
            tokens_of.append(None)
            seq_start.append(seq_start[-1])
            continue
        n = len(tokens)
        for t in range(n):
            rows += own[t][0]
            if t > 0:
                rows += own[t - 1][1]
                if t == 1:
                    rows += previous_start
            if t < n - 1:
                rows += own[t + 1][2]
                if t == n - 2:
                    rows += next_end
            if t == 0:
                rows += start
            if t == n - 1:
                rows += end
            item_start.append(len(rows))
        tokens_of.append(tokens)
        seq_start.append(seq_start[-1] + n)
    out = np.empty(seq_start[-1], np.int32)
    _viterbi(np.array(rows, np.int32), np.array(item_start, np.int64), np.array(seq_start, np.int64),
             m.weights, m.transitions, out)
    labels = [m.labels[i] for i in out]
    return [None if tokens is None else list(zip(tokens, labels[a:a + len(tokens)]))
            for tokens, a in zip(tokens_of, seq_start)]


@njit(cache=True, nogil=True)
def _viterbi(rows, item_start, seq_start, weights, transitions, out):
    """The best label of each token of each sequence, as crfsuite finds it: state scores summed
    attribute by attribute in the item's order (``crf1dt_state_score``), then Viterbi keeping the
    first of equal scores (``crf1dc_viterbi``)."""
    n_labels = weights.shape[1]
    lowest = -np.finfo(np.float64).max
    for s in range(len(seq_start) - 1):
        first, n = seq_start[s], seq_start[s + 1] - seq_start[s]
        if n == 0:
            continue
        state = np.zeros((n, n_labels))
        for t in range(n):
            for k in range(item_start[first + t], item_start[first + t + 1]):
                r = rows[k]
                for j in range(n_labels):
                    state[t, j] += weights[r, j]
        score = np.empty((n, n_labels))
        back = np.zeros((n, n_labels), np.int32)
        for j in range(n_labels):
            score[0, j] = state[0, j]
        for t in range(1, n):
            for j in range(n_labels):
                best = lowest
                for i in range(n_labels):
                    value = score[t - 1, i] + transitions[i, j]
                    if best < value:
                        best = value
                        back[t, j] = i
                score[t, j] = best + state[t, j]
        best = lowest
        last = 0
        for i in range(n_labels):
            if best < score[n - 1, i]:
                best = score[n - 1, i]
                last = i
        out[first + n - 1] = last
        for t in range(n - 2, -1, -1):
            out[first + t] = back[t + 1, out[first + t + 1]]
