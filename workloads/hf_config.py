"""Turn a Hugging Face `config.json` into the `ModelSpec` field tree.

The result is a plain dict; `workloads.load` types it, so a bad value is reported by the
same validation as a preset. This module only renames keys, fills the defaults the
`transformers` config classes apply, and reports keys that are missing or architectures we
cannot represent — all problems of one file in one `SpecError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from slmsim.core.errors import Problem, SpecError

Tree = dict[str, Any]


# Keys a config.json holds as JSON integers / booleans (transformers writes them so). A quoted
# "896", an 896.0 or a "false" is reported here, under the key the user wrote: left to the
# ModelSpec it would be coerced ("896" -> 896) where a field is typed, misread where it is
# not (bool("false") is True), or blamed on a derived field (head_dim = hidden / heads).
_INT_KEYS = frozenset({
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "vocab_size", "max_position_embeddings", "sliding_window", "num_experts", "num_local_experts",
    "num_experts_per_tok", "experts_per_token", "moe_intermediate_size", "shared_expert_intermediate_size",
    "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "q_lora_rank", "kv_lora_rank", "n_routed_experts",
    "n_shared_experts", "first_k_dense_replace", "moe_layer_freq", "decoder_sparse_step",
    "num_layers", "num_heads", "num_decoder_layers", "d_model", "d_kv", "d_ff",
})
_BOOL_KEYS = frozenset({"attention_bias", "tie_word_embeddings"})


class _Config:
    """Reads one config.json, remembering every problem instead of stopping at the first."""

    def __init__(self, data: dict[str, Any], file: str, model_type: str) -> None:
        self.data = data
        self.file = file
        self.model_type = model_type
        self.problems: list[Problem] = []
        self.typed: set[str] = set()

    def _typed(self, key: str, value: Any) -> Any:
        """The value, after a problem if it is not of the JSON type `key` always has (once per key:
        converters read some keys twice)."""
        if key in self.typed:
            return value
        self.typed.add(key)
        if key in _INT_KEYS and isinstance(value, bool):  # worded as the YAML loader words it
            self.problems.append(Problem(
                file=self.file, path=key, message=f"{str(value).lower()} is not an integer", value=value,
                expected="an integer", hint="write the number itself (true/false are not read as 1/0)"))
        elif key in _INT_KEYS and not isinstance(value, int):
            self.problems.append(Problem(
                file=self.file, path=key, message="not a JSON integer", value=value, expected="an integer",
                hint=f"write \"{key}\": {_whole(value)} (a number without quotes or a decimal point)"))
        elif key in _BOOL_KEYS and not isinstance(value, bool):
            self.problems.append(Problem(
                file=self.file, path=key, message="not a JSON boolean", value=value, expected="true or false",
                hint=f"write \"{key}\": true or false, without quotes"))
        return value

    def need(self, key: str) -> Any:
        value = self.data.get(key)
        if value is not None:
            return self._typed(key, value)
        self.problems.append(Problem(
            file=self.file, path=key,
            message=f"missing required key '{key}' for model_type '{self.model_type}'",
            expected="a positive integer",
            hint="download the complete config.json of the model, or write a model YAML instead",
        ))
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        return default if value is None else self._typed(key, value)

    def unsupported(self, key: str, value: Any, why: str) -> None:
        self.problems.append(Problem(
            file=self.file, path=key, message=f"cannot represent this model: {why}", value=value,
            hint="write a model YAML that approximates it, and say so in its notes",
        ))

    def done(self, tree: Tree) -> Tree:
        if self.problems:
            raise SpecError(self.problems)
        return tree


def _whole(value: Any) -> str:
    """How the value is written as a JSON integer, when it reads as one ("896", 896.0)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "<a whole number>"
    return str(int(number)) if number.is_integer() and not isinstance(value, bool) else "<a whole number>"


def _ratio(a: Any, b: Any, c: "_Config | None" = None) -> int | None:
    """a // b when both are usable integers; otherwise leave the field for validation to report."""
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and not isinstance(b, bool) and b > 0:
        if a % b and c is not None:
            c.problems.append(Problem(
                file=c.file, path="head_dim", message=f"no head_dim, and hidden_size ({a}) is not a multiple of "
                f"num_attention_heads ({b})", expected="head_dim given, or hidden_size divisible by num_attention_heads",
                hint="add the model's head_dim to the config, or check hidden_size and num_attention_heads"))
            return None
        return a // b
    return None


def _decoder(c: _Config, *, name: str, tie_default: bool = False, qkv_bias: bool | None = None) -> Tree:
    """Fields every decoder-only family shares (llama-style config keys)."""
    hidden = c.need("hidden_size")
    heads = c.need("num_attention_heads")
    tree: Tree = {
        "name": name,
        "family": c.model_type,
        "source": f"{c.file} (Hugging Face config.json, model_type '{c.model_type}')",
        "hidden_size": hidden,
        "intermediate_size": c.need("intermediate_size"),
        "num_layers": c.need("num_hidden_layers"),
        "num_attention_heads": heads,
        # absent num_key_value_heads means plain multi-head attention
        "num_kv_heads": c.get("num_key_value_heads", heads),
        # absent head_dim means hidden / heads (Qwen3 and Llama 3.2 state it explicitly)
        "head_dim": c.get("head_dim") if c.get("head_dim") is not None else _ratio(hidden, heads, c),
        "vocab_size": c.need("vocab_size"),
        "tie_word_embeddings": c.get("tie_word_embeddings", tie_default),
        "ffn": "gated",
        "qkv_bias": bool(c.get("attention_bias", False)) if qkv_bias is None else qkv_bias,
        "max_position_embeddings": c.get("max_position_embeddings"),
    }
    return tree


def _llama(c: _Config, name: str) -> Tree:
    return c.done(_decoder(c, name=name))


def _qwen2(c: _Config, name: str) -> Tree:
    # Qwen2 attention always has q/k/v biases; its config has no key for it
    return c.done(_decoder(c, name=name, qkv_bias=True))


def _smollm3(c: _Config, name: str) -> Tree:
    tree = _decoder(c, name=name, tie_default=True)
    flags = c.get("no_rope_layers")
    if isinstance(flags, list):
        nope = [i for i, uses_rope in enumerate(flags) if not uses_rope]
        tree["notes"] = f"layers without RoPE (NoPE): {nope}"
    return c.done(tree)


def _sliding(c: _Config, tree: Tree, layers_by_default: int) -> str | None:
    """Set tree["sliding_window"] from config.json: `sliding_window` (tokens; null or 0: none) and
    the local layers, counted from `layer_types` ("sliding_attention") when the config lists them,
    else the family's pattern (`layers_by_default`). Returns a note, or None without a window."""
    window = c.get("sliding_window")
    if not window or not isinstance(window, int) or isinstance(window, bool):
        return None
    kinds = c.data.get("layer_types")
    n = sum(k == "sliding_attention" for k in kinds) if isinstance(kinds, list) else layers_by_default
    if n <= 0:
        return None
    tree["sliding_window"] = {"tokens": window, "layers": n}
    how = "layer_types" if isinstance(kinds, list) else "the family's pattern"
    return f"{n} sliding-window layers of {window} tokens ({how}): they attend over (and with a windowed KV cache keep) the last {window} positions"


def _mistral(c: _Config, name: str) -> Tree:
    # Mistral v0.3 configs carry "head_dim": null -> hidden / heads; sliding_window may be null
    tree = _decoder(c, name=name)
    note = _sliding(c, tree, tree["num_layers"])  # Mistral 7B v0.1: every layer local
    if note:
        tree["notes"] = note
    return c.done(tree)


def _gemma(c: _Config, name: str, family: str) -> Tree:
    """Gemma 2 / 3: GeGLU (gated), head_dim 256 and tied embeddings by default (transformers configs)."""
    tree = _decoder(c, name=name, tie_default=True)
    tree["family"] = family
    tree["head_dim"] = c.get("head_dim", 256)
    layers = tree["num_layers"]
    if family == "gemma2":  # transformers Gemma2: layer i is local when i is even
        local = (layers + 1) // 2
    else:  # Gemma 3: every sliding_window_pattern-th layer (default 6) is global
        pattern = c.data.get("sliding_window_pattern", 6)
        local = layers - layers // pattern if isinstance(pattern, int) and pattern > 0 else 0
    notes = ["GeGLU FFN"]
    note = _sliding(c, tree, local)
    if note:
        notes.append(note)
    tree["notes"] = "; ".join(notes)
    return c.done(tree)


def _gemma2(c: _Config, name: str) -> Tree:
    return _gemma(c, name, "gemma2")


def _gemma3(c: _Config, name: str) -> Tree:
    """Gemma 3: text-only configs (gemma3_text) or the multimodal config with a `text_config`."""
    text = c.data.get("text_config")
    if isinstance(text, dict):
        inner = _Config({**text}, c.file, c.model_type)
        tree = _gemma(inner, name, "gemma3")
        tree["source"] = f"{c.file} (Hugging Face config.json, model_type 'gemma3', text_config; vision tower not modelled)"
        return tree
    return _gemma(c, name, "gemma3")


def _phi(c: _Config, name: str) -> Tree:
    """Phi-1/1.5/2: plain GELU FFN (fc1, fc2), biases on every projection, untied head."""
    tree = _decoder(c, name=name, qkv_bias=True)
    tree["ffn"] = "plain"
    rotary = c.get("partial_rotary_factor")
    if rotary is not None:
        tree["notes"] = f"partial rotary embedding (factor {rotary}); dense-layer biases not counted"
    return c.done(tree)


def _granite(c: _Config, name: str) -> Tree:
    # Granite 3.x: llama layout with embedding/residual/attention multipliers (no effect on sizes)
    return c.done(_decoder(c, name=name))


def _gpt_oss(c: _Config, name: str) -> Tree:
    tree = _decoder(c, name=name, qkv_bias=True)
    tree["moe"] = {
        "num_experts": c.need("num_local_experts"),
        "top_k": c.get("num_experts_per_tok", c.get("experts_per_token")),
        "expert_intermediate_size": tree["intermediate_size"],
    }
    if tree["moe"]["top_k"] is None:
        c.need("num_experts_per_tok")
    note = _sliding(c, tree, tree["num_layers"] // 2)  # gpt-oss: sliding and full attention alternate
    tree["notes"] = "; ".join(x for x in (note, "experts usually in MXFP4 (format mxfp4-experts)") if x)
    return c.done(tree)


def _local_experts(c: _Config, name: str) -> Tree:
    """Mixtral, PhiMoE, GraniteMoE: every layer sparse; intermediate_size is the expert width."""
    tree = _decoder(c, name=name)
    tree["moe"] = {
        "num_experts": c.need("num_local_experts"),
        "top_k": c.need("num_experts_per_tok"),
        "expert_intermediate_size": tree["intermediate_size"],
    }
    return c.done(tree)


def _olmoe(c: _Config, name: str) -> Tree:
    tree = _decoder(c, name=name)
    tree["moe"] = {
        "num_experts": c.need("num_experts"),
        "top_k": c.need("num_experts_per_tok"),
        "expert_intermediate_size": tree["intermediate_size"],
    }
    return c.done(tree)


def _qwen_moe(c: _Config, name: str, *, qkv_bias: bool) -> Tree:
    tree = _decoder(c, name=name, qkv_bias=qkv_bias)
    # MoeSpec has no way to say "every n-th layer" or "these layers dense"
    step = c.get("decoder_sparse_step", 1)
    if step != 1:
        c.unsupported("decoder_sparse_step", step, "only every layer sparse (decoder_sparse_step 1) is modelled")
    dense_layers = c.get("mlp_only_layers", [])
    if dense_layers:
        c.unsupported("mlp_only_layers", dense_layers, "dense layers between MoE layers are not modelled")
    moe: Tree = {
        "num_experts": c.need("num_experts"),
        "top_k": c.need("num_experts_per_tok"),
        "expert_intermediate_size": c.need("moe_intermediate_size"),
    }
    shared = c.get("shared_expert_intermediate_size", 0)
    if shared:
        # Qwen2-MoE fuses its shared experts into one MLP of this width
        moe["num_shared_experts"] = 1
        moe["shared_expert_intermediate_size"] = shared
    tree["moe"] = moe
    return c.done(tree)


def _qwen2_moe(c: _Config, name: str) -> Tree:
    return _qwen_moe(c, name, qkv_bias=True)


def _qwen3_moe(c: _Config, name: str) -> Tree:
    return _qwen_moe(c, name, qkv_bias=bool(c.get("attention_bias", False)))


def _deepseek_v2(c: _Config, name: str) -> Tree:
    tree = _decoder(c, name=name)
    nope = c.need("qk_nope_head_dim")
    rope = c.need("qk_rope_head_dim")
    # MLA sizes the KV itself; head_dim is the query/key head, KV heads = query heads
    tree["head_dim"] = nope + rope if isinstance(nope, int) and isinstance(rope, int) else None
    tree["num_kv_heads"] = tree["num_attention_heads"]
    tree["mla"] = {
        "kv_lora_rank": c.need("kv_lora_rank"),
        "q_lora_rank": c.get("q_lora_rank"),
        "qk_nope_head_dim": nope,
        "qk_rope_head_dim": rope,
        "v_head_dim": c.need("v_head_dim"),
    }
    freq = c.get("moe_layer_freq", 1)
    if freq != 1:
        c.unsupported("moe_layer_freq", freq, "only every layer after the dense ones sparse (moe_layer_freq 1) is modelled")
    dense = c.get("first_k_dense_replace", 0)
    shared = c.get("n_shared_experts", 0)
    moe: Tree = {
        "num_experts": c.need("n_routed_experts"),
        "top_k": c.need("num_experts_per_tok"),
        "expert_intermediate_size": c.need("moe_intermediate_size"),
    }
    if shared:
        moe["num_shared_experts"] = shared
        moe["shared_expert_intermediate_size"] = moe["expert_intermediate_size"]
    if dense:
        moe["first_dense_layers"] = dense
        moe["dense_intermediate_size"] = tree["intermediate_size"]
    tree["moe"] = moe
    return c.done(tree)


def _t5(c: _Config, name: str) -> Tree:
    encoder_layers = c.need("num_layers")
    # transformers: num_decoder_layers defaults to num_layers
    decoder_layers = c.get("num_decoder_layers", encoder_layers)
    heads = c.need("num_heads")
    proj = c.get("feed_forward_proj", "relu")
    tree: Tree = {
        "name": name,
        "family": "t5",
        "source": f"{c.file} (Hugging Face config.json, model_type 't5')",
        "hidden_size": c.need("d_model"),
        "intermediate_size": c.need("d_ff"),
        "num_layers": decoder_layers,
        "num_attention_heads": heads,
        "num_kv_heads": heads,
        "head_dim": c.need("d_kv"),
        "vocab_size": c.need("vocab_size"),
        # T5 v1.0 ties the head to the embedding; v1.1 / Flan-T5 configs set false
        "tie_word_embeddings": c.get("tie_word_embeddings", True),
        # "gated-gelu" (v1.1, Flan) has wi_0, wi_1, wo; "relu" (v1.0) has wi, wo
        "ffn": "gated" if isinstance(proj, str) and proj.startswith("gated-") else "plain",
        "encoder_decoder": {"num_encoder_layers": encoder_layers, "num_decoder_layers": decoder_layers},
        # relative position buckets: no absolute position limit to report
        "max_position_embeddings": None,
    }
    return c.done(tree)


_CONVERTERS: dict[str, Callable[[_Config, str], Tree]] = {
    "llama": _llama,
    "phi3": _llama,
    "qwen3": _llama,
    "qwen2": _qwen2,
    "smollm3": _smollm3,
    "mixtral": _local_experts,
    "phimoe": _local_experts,
    "granitemoe": _local_experts,
    "olmoe": _olmoe,
    "qwen2_moe": _qwen2_moe,
    "qwen3_moe": _qwen3_moe,
    "deepseek_v2": _deepseek_v2,
    "t5": _t5,
    "mistral": _mistral,
    "gemma2": _gemma2,
    "gemma3": _gemma3,
    "gemma3_text": _gemma3,
    "phi": _phi,
    "granite": _granite,
    "gpt_oss": _gpt_oss,
}

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(_CONVERTERS))


def raw_from_hf_config(data: dict[str, Any], *, file: str, name: str) -> dict[str, Any]:
    """The `ModelSpec` field tree for one config.json; every problem in it as one `SpecError`."""
    model_type = data.get("model_type")
    convert = _CONVERTERS.get(model_type) if isinstance(model_type, str) else None
    if convert is None:
        close = difflib.get_close_matches(str(model_type), SUPPORTED_MODEL_TYPES, n=1, cutoff=0.6)
        raise SpecError([Problem(
            file=file, path="model_type",
            message="missing model_type" if model_type is None else f"unsupported model_type {model_type!r}",
            value=model_type,
            expected=f"one of: {', '.join(SUPPORTED_MODEL_TYPES)}",
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + "for another architecture, write a model YAML (see workloads/presets/)",
        )])
    return convert(_Config(data, file, model_type), name)
