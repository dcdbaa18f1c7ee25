#!/usr/bin/python3
"""Writes a Llama 1B-shaped BF16 model folder (hidden 2048, 16 layers, 32/8 heads, intermediate 8192, vocab 32000,
tied embeddings; 1,038,682,112 parameters, a 2.08 GB model.safetensors) for measuring what loading a large
BF16 checkpoint costs. Values are a repeated block of N(0, 0.02) draws (norm weights 1): only sizes matter.

Usage: /usr/bin/python3 bench/write_llama_1b_bf16.py OUT_FOLDER
"""
import json, os, struct, sys
import numpy as np
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
H, L, NH, KV, I, V = 2048, 16, 32, 8, 8192, 32000
hd = H // NH
shapes = {"model.embed_tokens.weight": (V, H)}
for i in range(L):
    p = "model.layers.%d." % i
    shapes.update({p + "self_attn.q_proj.weight": (NH * hd, H), p + "self_attn.k_proj.weight": (KV * hd, H),
                   p + "self_attn.v_proj.weight": (KV * hd, H), p + "self_attn.o_proj.weight": (H, NH * hd),
                   p + "mlp.gate_proj.weight": (I, H), p + "mlp.up_proj.weight": (I, H), p + "mlp.down_proj.weight": (H, I),
                   p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,)})
shapes["model.norm.weight"] = (H,)
header, off = {}, 0
for k, s in shapes.items():
    n = int(np.prod(s)) * 2
    header[k] = {"dtype": "BF16", "shape": list(s), "data_offsets": [off, off + n]}
    off += n
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
block = (np.random.default_rng(0).standard_normal(1 << 22, dtype=np.float32) * 0.02).view(np.uint32) >> 16
block = block.astype(np.uint16).tobytes()
one = np.full(1, 0x3f80, dtype=np.uint16).tobytes()
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h)
    for k, s in shapes.items():
        n = int(np.prod(s)) * 2
        if len(s) == 1:
            f.write(one * (n // 2)); continue
        while n > 0:
            c = min(n, len(block)); f.write(block[:c]); n -= c
cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": V, "hidden_size": H,
       "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": KV,
       "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": True, "rope_theta": 10000.0,
       "rope_scaling": None, "hidden_act": "silu", "torch_dtype": "bfloat16"}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
print("params", sum(int(np.prod(s)) for s in shapes.values()), "bytes", off)
