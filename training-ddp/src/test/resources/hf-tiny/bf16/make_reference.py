#!/usr/bin/python3
"""Writes results.json: 5 AdamW steps of the tiny Llama (../llama) on the fixed batch of ../lora/results.json,
in float32 and under torch's CPU autocast to bfloat16, as losses per step.

The model is transformers' LlamaForCausalLM written out in plain torch, operation for operation as its eager
attention path runs (the matmul times the scaling, the additive finfo.min causal mask, softmax in float32 cast
to the query's dtype, RMSNorm in float32 cast back to its input's dtype, the loss on logits.float()), because
transformers is not packaged for Debian; the float32 losses check that it is that model.
Run with Debian's python3-torch 1.13 (no other package):
    /usr/bin/python3 training-ddp/src/test/resources/hf-tiny/bf16/make_reference.py
"""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = json.load(open(os.path.join(HERE, "..", "llama", "config.json")))
STEPS = 5
LR = 1e-3


def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def rms_norm(x, w, eps):
    dt = x.dtype
    h = x.to(torch.float32)
    var = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(var + eps)
    return w * h.to(dt)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def forward(p, ids):
    b, t = ids.shape
    hd = CFG["head_dim"]
    nh = CFG["num_attention_heads"]
    nkv = CFG["num_key_value_heads"]
    eps = CFG["rms_norm_eps"]
    x = torch.nn.functional.embedding(ids, p["model.embed_tokens.weight"])
    with torch.autocast(device_type="cpu", enabled=False):
        inv = 1.0 / (CFG["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        pos = torch.arange(t, dtype=torch.float32)
        freqs = pos[:, None] * inv[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos()[None, None].to(x.dtype)
        sin = emb.sin()[None, None].to(x.dtype)
    mask = torch.full((t, t), torch.finfo(torch.float32).min).triu(1)[None, None]
    lin = torch.nn.functional.linear
    for i in range(CFG["num_hidden_layers"]):
        pre = "model.layers.%d." % i
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = lin(h, p[pre + "self_attn.q_proj.weight"]).view(b, t, nh, hd).transpose(1, 2)
        k = lin(h, p[pre + "self_attn.k_proj.weight"]).view(b, t, nkv, hd).transpose(1, 2)
        v = lin(h, p[pre + "self_attn.v_proj.weight"]).view(b, t, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        g = nh // nkv
        k = k[:, :, None].expand(b, nkv, g, t, hd).reshape(b, nh, t, hd)
        v = v[:, :, None].expand(b, nkv, g, t, hd).reshape(b, nh, t, hd)
        w = torch.matmul(q, k.transpose(2, 3)) * (hd ** -0.5)
        w = w + mask
        w = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(w, v).transpose(1, 2).reshape(b, t, nh * hd)
        x = x + lin(o, p[pre + "self_attn.o_proj.weight"])
        f = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        gate = torch.nn.functional.silu(lin(f, p[pre + "mlp.gate_proj.weight"]))
        x = x + lin(gate * lin(f, p[pre + "mlp.up_proj.weight"]), p[pre + "mlp.down_proj.weight"])
    x = rms_norm(x, p["model.norm.weight"], eps)
    return lin(x, p["model.embed_tokens.weight"])


def train(batch, bf16):
    params = load_safetensors(os.path.join(HERE, "..", "llama", "model.safetensors"))
    for v in params.values():
        v.requires_grad_(True)
    opt = torch.optim.AdamW(list(params.values()), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    losses = []
    for _ in range(STEPS):
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = forward(params, batch)
        logits = logits.float()
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                 batch[:, 1:].reshape(-1))
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


if __name__ == "__main__":
    torch.manual_seed(0)
    batch = torch.tensor(json.load(open(os.path.join(HERE, "..", "lora", "results.json")))["batch"])
    out = {"torch_version": torch.__version__, "steps": STEPS, "learning_rate": LR,
           "optimizer": "AdamW betas (0.9, 0.999) eps 1e-8 weight_decay 0, constant rate, no clipping",
           "batch": "../lora/results.json batch (4 x 16), labels = input_ids",
           "float32_losses": train(batch, False), "bf16_autocast_losses": train(batch, True)}
    json.dump(out, open(os.path.join(HERE, "results.json"), "w"), indent=1)
    print(json.dumps(out, indent=1))
