"""Read CTranslate2 ``model.bin`` files and turn Whisper ones into openai-whisper checkpoints.

CTranslate2 binary format, version 6 (little endian; see ``ModelSpec._serialize`` in
ctranslate2/specs/model_spec.py and ``models/model.cc``)::

    u32 binary_version            (6)
    str spec_name                 ("WhisperSpec")
    u32 spec_revision
    u32 num_variables
      str name, u8 rank, rank x u32 dims, u8 dtype, u32 num_bytes, bytes
    u32 num_aliases
      str alias, str target

where ``str`` is a u16 byte count followed by UTF-8 bytes including a trailing NUL.
The dtype ids are ctranslate2's ``DataType`` enum: float32=0, int8=1, int16=2,
int32=3, float16=4, bfloat16=5 (confirmed on real files: the int8 ``activation``
flag is 1, the int16 ``num_heads`` scalars are 2, float16 weights are 4).

A model may be split into several files (``model.bin.part1``, ``model.bin.part2``):
they are read as one stream, part after part, without joining them on disk.

The public entry is :func:`convert_whisper`; :func:`read_model` and
:func:`alignment_heads_dump` are exposed for tests and :mod:`pipeline.store.registry`.
"""
from __future__ import annotations

import base64
import gzip
import json
import logging
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, Optional, Sequence

from pipeline.errors import PodscribeError

if TYPE_CHECKING:  # pragma: no cover
    import torch

log = logging.getLogger(__name__)

BINARY_VERSION = 6
# id -> (name, item size, torch dtype attribute)
DTYPES = {
    0: ("float32", 4, "float32"),
    1: ("int8", 1, "int8"),
    2: ("int16", 2, "int16"),
    3: ("int32", 4, "int32"),
    4: ("float16", 2, "float16"),
    5: ("bfloat16", 2, "bfloat16"),
}
QUANTIZED = {"int8", "int16"}
MAX_RANK = 8
# Vocabulary sizes: English-only Whisper has 51864 tokens, multilingual >= 51865.
FIRST_MULTILINGUAL_VOCAB = 51865


@dataclass(frozen=True)
class CT2Model:
    """The decoded content of a model.bin: tensors by name plus aliases."""

    spec: str
    revision: int
    variables: dict
    aliases: dict


class _Stream:
    """Sequential reads over one or more files as if they were concatenated."""

    def __init__(self, paths: Sequence[Path]):
        self._paths = [Path(p) for p in paths]
        self._index = -1
        self._fh: Optional[BinaryIO] = None
        self.offset = 0

    def __enter__(self) -> "_Stream":
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()

    def _next_file(self) -> bool:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._index += 1
        if self._index >= len(self._paths):
            return False
        self._fh = open(self._paths[self._index], "rb")
        return True

    def readinto(self, buffer) -> None:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view):
            got = self._fh.readinto(view[done:]) if self._fh is not None else 0
            if got:
                done += got
                continue
            if not self._next_file():
                self.offset += done
                raise PodscribeError(
                    f"{self._describe()}: truncated CTranslate2 model: wanted {len(view)} bytes "
                    f"at offset {self.offset - done}, got {done} before end of file"
                )
        self.offset += done

    def read(self, size: int) -> bytes:
        buf = bytearray(size)
        self.readinto(buf)
        return bytes(buf)

    def at_end(self) -> bool:
        while True:
            if self._fh is not None and self._fh.read(1):
                return False
            if not self._next_file():
                return True

    def _describe(self) -> str:
        return " + ".join(str(p) for p in self._paths)

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        (length,) = self.unpack("H")
        raw = self.read(length)
        return raw.rstrip(b"\0").decode("utf-8", errors="replace")


def read_model(paths: Sequence[Path]) -> CT2Model:
    """Read a (possibly split) model.bin into torch tensors. Quantized weights are refused."""
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise PodscribeError(f"{path}: CTranslate2 model file not found")
    with _Stream(paths) as stream:
        spec, revision = _read_header(stream, paths[0])
        (count,) = stream.unpack("I")
        variables = dict(_read_variable(stream, paths[0]) for _ in range(count))
        (n_alias,) = stream.unpack("I")
        aliases = {stream.string(): stream.string() for _ in range(n_alias)}
        if not stream.at_end():
            log.warning("%s: trailing bytes after the CTranslate2 model", paths[-1])
    return CT2Model(spec, revision, variables, aliases)


def _read_header(stream: _Stream, path: Path) -> tuple[str, int]:
    (version,) = stream.unpack("I")
    if version != BINARY_VERSION:
        raise PodscribeError(
            f"{path}: not a CTranslate2 model of binary version {BINARY_VERSION} (found {version})"
        )
    spec = stream.string()
    (revision,) = stream.unpack("I")
    return spec, revision


def _read_variable(stream: _Stream, path: Path) -> tuple[str, "torch.Tensor"]:
    import torch

    name = stream.string()
    (rank,) = stream.unpack("B")
    if rank > MAX_RANK:
        raise PodscribeError(f"{path}: corrupt CTranslate2 model (variable {name!r} has rank {rank})")
    shape = stream.unpack(f"{rank}I") if rank else ()
    dtype_id, num_bytes = stream.unpack("B") + stream.unpack("I")
    if dtype_id not in DTYPES:
        raise PodscribeError(f"{path}: corrupt CTranslate2 model (variable {name!r} has dtype id {dtype_id})")
    dtype, size, torch_name = DTYPES[dtype_id]
    if dtype in QUANTIZED and rank >= 2:
        raise PodscribeError(
            f"{path}: quantized CTranslate2 model ({dtype} weight {name!r}); "
            "podscribe needs a float16 or float32 conversion"
        )
    if num_bytes != math.prod(shape) * size:
        raise PodscribeError(
            f"{path}: corrupt CTranslate2 model (variable {name!r}: {num_bytes} bytes for "
            f"shape {list(shape)} of {dtype})"
        )
    buf = bytearray(num_bytes)
    stream.readinto(buf)
    tensor = torch.frombuffer(buf, dtype=getattr(torch, torch_name)) if num_bytes else torch.empty(
        0, dtype=getattr(torch, torch_name)
    )
    return name, tensor.reshape(shape)


def convert_whisper(paths: Sequence[Path], config: Optional[Path] = None) -> dict:
    """Convert a CTranslate2 WhisperSpec model into an openai-whisper checkpoint dict.

    The result has whisper's ``dims`` and ``model_state_dict`` plus ``alignment_heads``
    (a list of ``[layer, head]`` from the CT2 ``config.json``, or ``None``).
    """
    model = read_model(paths)
    if model.spec != "WhisperSpec":
        raise PodscribeError(f"{paths[0]}: CTranslate2 model is a {model.spec}, not a WhisperSpec")
    variables = model.variables
    dims = _dims(variables, paths[0])
    state = dict(_encoder(variables, dims["n_audio_layer"]))
    state.update(_decoder(variables, dims["n_text_layer"]))
    settings = _read_config(config)
    heads = _alignment_heads(settings, dims, config)
    _check_tokenizer(settings, dims, config)
    return {"dims": dims, "model_state_dict": state, "alignment_heads": heads}


def _layers(variables: dict, side: str) -> int:
    found = {int(m.group(1)) for n in variables if (m := re.match(rf"{side}/layer_(\d+)/", n))}
    if found != set(range(len(found))):
        raise PodscribeError(f"CTranslate2 model: {side} layers are not numbered 0..N-1: {sorted(found)}")
    return len(found)


def _require(variables: dict, name: str, path: Path):
    if name not in variables:
        raise PodscribeError(f"{path}: CTranslate2 Whisper model lacks variable {name!r}")
    return variables[name]


def _heads(variables: dict, side: str, n_state: int) -> int:
    tensor = variables.get(f"{side}/num_heads")
    if tensor is None:
        # Every released Whisper model uses 64-dimensional attention heads.
        log.warning("CTranslate2 model has no %s/num_heads; assuming 64-dim heads", side)
        return n_state // 64
    return int(tensor.item())


def _dims(variables: dict, path: Path) -> dict:
    conv1 = _require(variables, "encoder/conv1/weight", path)
    audio_pos = _require(variables, "encoder/position_encodings/encodings", path)
    embed = _require(variables, "decoder/embeddings/weight", path)
    text_pos = _require(variables, "decoder/position_encodings/encodings", path)
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(audio_pos.shape[0]),
        "n_audio_state": int(audio_pos.shape[1]),
        "n_audio_head": _heads(variables, "encoder", int(audio_pos.shape[1])),
        "n_audio_layer": _layers(variables, "encoder"),
        "n_vocab": int(embed.shape[0]),
        "n_text_ctx": int(text_pos.shape[0]),
        "n_text_state": int(embed.shape[1]),
        "n_text_head": _heads(variables, "decoder", int(embed.shape[1])),
        "n_text_layer": _layers(variables, "decoder"),
    }


def _take(variables: dict, name: str) -> "torch.Tensor":
    if name not in variables:
        raise PodscribeError(f"CTranslate2 Whisper model lacks variable {name!r}")
    return variables[name]


def _linear(variables: dict, src: str, dst: str) -> Iterator[tuple[str, "torch.Tensor"]]:
    yield f"{dst}.weight", _take(variables, f"{src}/weight")
    yield f"{dst}.bias", _take(variables, f"{src}/bias")


def _norm(variables: dict, src: str, dst: str) -> Iterator[tuple[str, "torch.Tensor"]]:
    yield f"{dst}.weight", _take(variables, f"{src}/gamma")
    yield f"{dst}.bias", _take(variables, f"{src}/beta")


def _fused(variables: dict, src: str, dst: str, names: Sequence[str]) -> Iterator[tuple[str, "torch.Tensor"]]:
    """Split a fused projection; whisper's key has no bias (a key bias adds the same
    value to every logit of a query, which softmax ignores, so dropping it is exact)."""
    weights = _take(variables, f"{src}/weight").chunk(len(names), dim=0)
    biases = _take(variables, f"{src}/bias").chunk(len(names), dim=0)
    for name, weight, bias in zip(names, weights, biases):
        yield f"{dst}.{name}.weight", weight.clone()
        if name != "key":
            yield f"{dst}.{name}.bias", bias.clone()


def _block(variables: dict, src: str, dst: str, cross: bool) -> Iterator[tuple[str, "torch.Tensor"]]:
    yield from _fused(variables, f"{src}/self_attention/linear_0", f"{dst}.attn", ("query", "key", "value"))
    yield from _linear(variables, f"{src}/self_attention/linear_1", f"{dst}.attn.out")
    yield from _norm(variables, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    if cross:
        yield from _linear(variables, f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        yield from _fused(variables, f"{src}/attention/linear_1", f"{dst}.cross_attn", ("key", "value"))
        yield from _linear(variables, f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        yield from _norm(variables, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
    yield from _linear(variables, f"{src}/ffn/linear_0", f"{dst}.mlp.0")
    yield from _linear(variables, f"{src}/ffn/linear_1", f"{dst}.mlp.2")
    yield from _norm(variables, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


def _encoder(variables: dict, n_layer: int) -> Iterator[tuple[str, "torch.Tensor"]]:
    yield from _linear(variables, "encoder/conv1", "encoder.conv1")
    yield from _linear(variables, "encoder/conv2", "encoder.conv2")
    yield "encoder.positional_embedding", _take(variables, "encoder/position_encodings/encodings")
    for i in range(n_layer):
        yield from _block(variables, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    yield from _norm(variables, "encoder/layer_norm", "encoder.ln_post")


def _decoder(variables: dict, n_layer: int) -> Iterator[tuple[str, "torch.Tensor"]]:
    yield "decoder.token_embedding.weight", _take(variables, "decoder/embeddings/weight")
    yield "decoder.positional_embedding", _take(variables, "decoder/position_encodings/encodings")
    for i in range(n_layer):
        yield from _block(variables, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    yield from _norm(variables, "decoder/layer_norm", "decoder.ln")


def _read_config(config: Optional[Path]) -> dict:
    if config is None:
        return {}
    try:
        return json.loads(Path(config).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PodscribeError(f"{config}: cannot read CTranslate2 config: {exc}") from exc


def _alignment_heads(settings: dict, dims: dict, config: Optional[Path]) -> Optional[list]:
    heads = settings.get("alignment_heads")
    if heads is None:
        log.warning("%s: no alignment_heads; whisper will use all heads of the last half", config)
        return None
    pairs = [[int(layer), int(head)] for layer, head in heads]
    for layer, head in pairs:
        if not (0 <= layer < dims["n_text_layer"] and 0 <= head < dims["n_text_head"]):
            raise PodscribeError(f"{config}: alignment head {[layer, head]} outside the decoder")
    return pairs


def _check_tokenizer(settings: dict, dims: dict, config: Optional[Path]) -> None:
    """English-only models end text with token 50256, multilingual ones with 50257."""
    multilingual = dims["n_vocab"] >= FIRST_MULTILINGUAL_VOCAB
    eot = 50257 if multilingual else 50256
    begin = settings.get("suppress_ids_begin")
    if begin and eot not in begin:
        raise PodscribeError(
            f"{config}: suppress_ids_begin {begin} does not fit a "
            f"{'multilingual' if multilingual else 'English-only'} vocabulary of {dims['n_vocab']}"
        )
    langs = settings.get("lang_ids")
    n_langs = dims["n_vocab"] - 51765 - 1
    if multilingual and langs is not None and len(langs) != n_langs:
        log.warning("%s: %d lang_ids but the vocabulary has %d languages", config, len(langs), n_langs)


def alignment_heads_dump(heads: Sequence[Sequence[int]], n_layer: int, n_head: int) -> bytes:
    """Encode ``[layer, head]`` pairs the way ``Whisper.set_alignment_heads`` reads them."""
    mask = bytearray(n_layer * n_head)
    for layer, head in heads:
        mask[layer * n_head + head] = 1
    return base64.b85encode(gzip.compress(bytes(mask), mtime=0))
