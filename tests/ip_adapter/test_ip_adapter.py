"""IP-Adapter checkpoints and the image cross-attention, held to diffusers' own processor."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch
from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
from safetensors.torch import load_file, save_file

from ipa_demo.architecture import SD15
from ipa_demo.architecture.layers import CROSS_ATTENTION_LAYERS
from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.attention import CrossAttnProcessor, IPAttention
from ipa_demo.ip_adapter.weights import CheckpointError, load_ip_adapter, read_checkpoint


def ip_file(models_dir: Path, name: str = "ip-adapter_sd15.safetensors") -> Path:
    return models_dir / "IP-Adapter" / "models" / name


def test_checkpoint_numbers_follow_attn_processors_not_execution_order(engine: Engine) -> None:
    positions = {name: index for index, name in enumerate(engine.models.unet.attn_processors)}
    ids = {layer: positions[f"{layer}.transformer_blocks.0.attn2.processor"] for layer in CROSS_ATTENTION_LAYERS}
    assert ids == {block.name.rpartition(".transformer_blocks")[0]: block.checkpoint_id for block in SD15.blocks}
    assert ids["down_blocks.0.attentions.0"] == 1
    assert ids["down_blocks.2.attentions.1"] == 11
    assert ids["up_blocks.1.attentions.0"] == 13
    assert ids["mid_block.attentions.0"] == 31
    assert sorted(ids.values()) == list(range(1, 32, 2))


def test_processor_equals_diffusers_ip_processor(engine: Engine) -> None:
    weights = engine.ip_adapter("base")
    index = CROSS_ATTENTION_LAYERS.index("up_blocks.2.attentions.1")
    attn = engine.models.unet.get_submodule(f"{CROSS_ATTENTION_LAYERS[index]}.transformer_blocks.0.attn2")
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 20, attn.to_q.in_features, generator=generator)
    text = torch.randn(2, 77, attn.to_k.in_features, generator=generator)
    tokens = torch.randn(2, 4, attn.to_k.in_features, generator=generator)

    theirs_processor = IPAdapterAttnProcessor2_0(attn.to_q.out_features, attn.to_k.in_features, num_tokens=(4,), scale=0.6)
    theirs_processor.to_k_ip[0].load_state_dict(weights.to_k_ip[index].state_dict())
    theirs_processor.to_v_ip[0].load_state_dict(weights.to_v_ip[index].state_dict())
    scales = tuple(0.6 if i == index else 0.0 for i in range(16))
    with torch.no_grad():
        ours = CrossAttnProcessor(index)(attn, hidden, text, ip=IPAttention(weights, tokens, scales))
        theirs = theirs_processor(attn, hidden, (text, [tokens]))
        plain = CrossAttnProcessor(index)(attn, hidden, text, ip=None)
    assert torch.equal(ours, theirs)
    assert not torch.allclose(ours, plain)


def test_bin_checkpoints_load_like_safetensors(engine: Engine, tiny_models_dir: Path, tmp_path: Path) -> None:
    flat = load_file(ip_file(tiny_models_dir))
    nested: dict[str, dict[str, torch.Tensor]] = collections.defaultdict(dict)
    for key, tensor in flat.items():
        group, _, rest = key.partition(".")
        nested[group][rest] = tensor
    path = tmp_path / "ip-adapter_sd15.bin"
    torch.save(dict(nested), path)
    from_bin = load_ip_adapter(path, engine.models.unet)
    from_safetensors = engine.ip_adapter("base")
    for (name, ours), (_, theirs) in zip(from_bin.state_dict().items(), from_safetensors.state_dict().items()):
        assert torch.equal(ours, theirs), name


class NotATensor:
    pass


def test_pickles_with_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.bin"
    torch.save({"image_proj": {"x": NotATensor()}, "ip_adapter": {}}, path)
    with pytest.raises(CheckpointError, match="evil.bin"):
        read_checkpoint(path)


def test_a_checkpoint_for_another_unet_names_the_missing_key(
    engine: Engine, tiny_models_dir: Path, tmp_path: Path
) -> None:
    flat = load_file(ip_file(tiny_models_dir))
    del flat["ip_adapter.31.to_v_ip.weight"]
    path = tmp_path / "partial.safetensors"
    save_file(flat, path)
    with pytest.raises(CheckpointError, match=r"partial.safetensors.*31\.to_v_ip"):
        load_ip_adapter(path, engine.models.unet)


def test_truncated_file_is_a_clear_error(tiny_models_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(ip_file(tiny_models_dir).read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        read_checkpoint(path)


@pytest.mark.parametrize(("variant", "tokens"), [("base", 4), ("light", 4), ("plus", 16), ("plus-face", 16), ("full-face", 257)])
def test_each_variant_yields_its_number_of_image_tokens(engine: Engine, reference, variant: str, tokens: int) -> None:
    weights = engine.ip_adapter(variant)
    encoding = engine.image_encoder.encode([reference], "crop", weights.uses_hidden_states)
    with torch.no_grad():
        assert weights.image_tokens(encoding.positive).shape[1] == tokens
