"""OpenAI CLIP's byte-level BPE tokenizer (``clip/simple_tokenizer.py`` behaviour), no torch.

Pipeline per string: text fix-up (``ftfy.fix_text`` if ftfy is installed, else `basic_fix`), HTML
unescape twice, strip, collapse whitespace, lower-case; split with the CLIP pre-tokenizer pattern
``<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+``
(implemented here with `unicodedata`, so the ``regex`` package is not needed); map UTF-8 bytes to
unicode symbols; apply the 48,894 BPE merges of ``bpe_simple_vocab_16e6.txt.gz``; ids 49406/49407
are ``<|startoftext|>``/``<|endoftext|>``; `tokenize` pads with 0 to 77 tokens.

Known differences when ftfy is absent: `basic_fix` does NFC normalisation, uncurls quotes,
expands Latin ligatures, maps full/half-width forms and removes the control characters ftfy
removes, but does not repair mojibake (text decoded with the wrong codec). The regex module's
``IGNORECASE`` also folds a few exotic characters (e.g. U+017F long s matching ``'s``) that this
pre-tokenizer treats literally.
"""

from __future__ import annotations

import functools
import gzip
import html
import os
import unicodedata

import numpy as np

VOCAB_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "assets",
                          "bpe_simple_vocab_16e6.txt.gz")
SOT, EOT = "<|startoftext|>", "<|endoftext|>"
CONTEXT_LENGTH = 77
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
_QUOTES = {**{c: "'" for c in (0x02BC, 0x2018, 0x2019, 0x201A, 0x201B)},
           **{c: '"' for c in range(0x201C, 0x2020)}}
_LIGATURES = {ord(k): v for k, v in {
    "Ĳ": "IJ", "ĳ": "ij", "ŉ": "ʼn", "Ǳ": "DZ", "ǲ": "Dz", "ǳ": "dz", "Ǆ": "DŽ", "ǅ": "Dž",
    "ǆ": "dž", "Ǉ": "LJ", "ǈ": "Lj", "ǉ": "lj", "Ǌ": "NJ", "ǋ": "Nj", "ǌ": "nj", "ﬀ": "ff",
    "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "ſt", "ﬆ": "st"}.items()}
_CONTROL = [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, *range(0x206A, 0x2070), 0xFEFF,
            *range(0xFFF9, 0xFFFD)]


@functools.lru_cache()
def _fix_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {0x3000: " "}
    for i in range(0xFF01, 0xFFF0):  # full-width / half-width forms -> standard width
        alt = unicodedata.normalize("NFKC", chr(i))
        if alt != chr(i):
            table[i] = alt
    table.update(_LIGATURES)
    table.update(_QUOTES)
    table.update({c: None for c in _CONTROL})
    return table


def basic_fix(text: str) -> str:
    """The ftfy fixes that matter for ordinary (non-mojibake) prompts; see module docstring."""
    return unicodedata.normalize("NFC", text.translate(_fix_table()))


def _fix_text(text: str) -> str:
    try:
        import ftfy
    except ImportError:
        return basic_fix(text)
    return ftfy.fix_text(text)


def clean(text: str) -> str:
    """OpenAI's ``whitespace_clean(basic_clean(text)).lower()``."""
    text = html.unescape(html.unescape(_fix_text(text))).strip()
    return " ".join(text.split()).lower()


def _is_letter(c: str) -> bool:
    return unicodedata.category(c).startswith("L")


def _is_number(c: str) -> bool:
    return unicodedata.category(c).startswith("N")


def pre_tokenize(text: str) -> list[str]:
    """``regex.findall`` of CLIP's pattern (alternatives tried in order at each position)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        literal = next((t for t in (SOT, EOT, *_CONTRACTIONS) if text.startswith(t, i)), None)
        if literal is not None:
            j = i + len(literal)
        elif _is_letter(c):
            j = i + 1
            while j < n and _is_letter(text[j]):
                j += 1
        elif _is_number(c):
            j = i + 1
        else:
            j = i + 1
            while j < n and not (text[j].isspace() or _is_letter(text[j]) or _is_number(text[j])):
                j += 1
        out.append(text[i:j])
        i = j
    return out


@functools.lru_cache()
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode symbol map."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping  # printable bytes first: this order defines ids 0..511


class SimpleTokenizer:
    """CLIP BPE tokenizer.

    Args:
      vocab_path: the gzipped merge list (defaults to the copy in ``jaxlatent/assets``).
    """

    def __init__(self, vocab_path: str = VOCAB_PATH):
        with gzip.open(vocab_path) as f:
            lines = f.read().decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]
        symbols = list(bytes_to_unicode().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
        vocab += [SOT, EOT]
        self.encoder = {s: i for i, s in enumerate(vocab)}
        self.decoder = {i: s for s, i in self.encoder.items()}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.sot, self.eot = self.encoder[SOT], self.encoder[EOT]
        self._cache = {SOT: SOT, EOT: EOT}

    def bpe(self, token: str) -> str:
        """Space-separated BPE symbols of one pre-token (last symbol carries ``</w>``)."""
        if token in self._cache:
            return self._cache[token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word[:-1], word[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = " ".join(word)
        return self._cache[token]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without start/end tokens."""
        ids = []
        for token in pre_tokenize(clean(text)):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(token).split(" "))
        return ids

    def decode(self, ids) -> str:
        text = "".join(self.decoder[int(i)] for i in ids)
        data = bytearray(self.byte_decoder[c] for c in text)
        return data.decode("utf-8", errors="replace").replace("</w>", " ")


@functools.lru_cache()
def default_tokenizer() -> SimpleTokenizer:
    return SimpleTokenizer()


def tokenize(texts: str | list[str], context_length: int = CONTEXT_LENGTH,
             truncate: bool = False, tokenizer: SimpleTokenizer | None = None) -> np.ndarray:
    """OpenAI's ``clip.tokenize``: ``[sot] + ids + [eot]``, zero-padded.

    Args:
      texts: a string or a list of strings.
      context_length: 77 for all OpenAI models.
      truncate: cut too long inputs (last kept token replaced by EOT) instead of raising.
      tokenizer: defaults to the packaged vocabulary.

    Returns:
      int32 ``[len(texts), context_length]``.

    Raises:
      ValueError: an input is too long and ``truncate`` is False.
    """
    tok = tokenizer or default_tokenizer()
    texts = [texts] if isinstance(texts, str) else list(texts)
    out = np.zeros((len(texts), context_length), np.int32)
    for row, text in enumerate(texts):
        ids = [tok.sot, *tok.encode(text), tok.eot]
        if len(ids) > context_length:
            if not truncate:
                raise ValueError(f"input {text!r} is too long for context length {context_length}")
            ids = ids[:context_length]
            ids[-1] = tok.eot
        out[row, :len(ids)] = ids
    return out
