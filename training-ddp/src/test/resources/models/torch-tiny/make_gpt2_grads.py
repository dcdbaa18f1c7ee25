#!/usr/bin/python3
"""Gradients of gpt2-tiny's loss on its seq0 and on its padded batch, from a plain-torch GPT-2 forward written
to transformers' GPT2LMHeadModel (v4.40: Conv1D [in,out], gelu_new, causal where(·, finfo.min) then additive
(1-mask)*finfo.min, scale 1/sqrt(head_dim), tied head, loss shifted inside). Reads ../gpt2-tiny/ (the shared
reference copy). Writes gpt2_grads.json. Run: /usr/bin/python3 make_gpt2_grads.py (in this folder)
"""
import json, math, struct
import numpy as np
import torch
import torch.nn.functional as F

def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], dtype="<f4").copy().reshape(v["shape"]))
    return out

P = {k: v.requires_grad_() for k, v in load("../gpt2-tiny/model.safetensors").items()}
E, H, L = 48, 3, 3
D = E // H

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

def forward(ids, mask=None, pos=None):
    B, T = ids.shape
    if pos is None:
        pos = torch.arange(T)[None, :]
    x = F.embedding(ids, P["transformer.wte.weight"]) + F.embedding(pos, P["transformer.wpe.weight"])
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None]
    fmin = torch.finfo(torch.float32).min
    ext = None if mask is None else (1.0 - mask[:, None, None, :].float()) * fmin
    for i in range(L):
        p = f"transformer.h.{i}."
        a = F.layer_norm(x, (E,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], 1e-5)
        qkv = torch.addmm(P[p + "attn.c_attn.bias"], a.view(-1, E), P[p + "attn.c_attn.weight"]).view(B, T, 3 * E)
        q, k, v = qkv.split(E, dim=2)
        sh = lambda t: t.view(B, T, H, D).permute(0, 2, 1, 3)
        q, k, v = sh(q), sh(k), sh(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], D ** 0.5)
        w = torch.where(causal, w, torch.full([], fmin))
        if ext is not None:
            w = w + ext
        w = F.softmax(w, dim=-1)
        ctx = torch.matmul(w, v).permute(0, 2, 1, 3).reshape(B, T, E)
        x = x + torch.addmm(P[p + "attn.c_proj.bias"], ctx.view(-1, E), P[p + "attn.c_proj.weight"]).view(B, T, E)
        m = F.layer_norm(x, (E,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], 1e-5)
        f = gelu_new(torch.addmm(P[p + "mlp.c_fc.bias"], m.view(-1, E), P[p + "mlp.c_fc.weight"]))
        x = x + torch.addmm(P[p + "mlp.c_proj.bias"], f, P[p + "mlp.c_proj.weight"]).view(B, T, E)
    x = F.layer_norm(x, (E,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], 1e-5)
    return F.linear(x, P["transformer.wte.weight"])

def loss_of(logits, labels):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))

def i32(name, shape):
    return torch.from_numpy(np.fromfile("../gpt2-tiny/inputs/" + name, dtype="<i4").astype(np.int64).reshape(shape))

NAMES = ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
         "transformer.h.1.mlp.c_fc.bias", "transformer.h.2.attn.c_proj.weight", "transformer.ln_f.weight"]
out = {"torch": torch.__version__, "names": NAMES}
seq0 = i32("seq0_input_ids.i32", (1, 12))
l0 = loss_of(forward(seq0), seq0)
l0.backward()
out["seq0"] = {"loss": float(l0), "grads": {n: P[n].grad.reshape(-1)[:256].tolist() for n in NAMES},
               "grad_sums": {n: float(P[n].grad.double().abs().sum()) for n in NAMES}}
for v in P.values():
    v.grad = None
ids = i32("input_ids_padded.i32", (3, 12)); mask = i32("attention_mask.i32", (3, 12))
labels = i32("labels_padded.i32", (3, 12)); pos = i32("position_ids_from_mask.i32", (3, 12))
lp = loss_of(forward(ids, mask, pos), labels)
lp.backward()
out["padded_posmask"] = {"loss": float(lp), "grads": {n: P[n].grad.reshape(-1)[:256].tolist() for n in NAMES},
                         "grad_sums": {n: float(P[n].grad.double().abs().sum()) for n in NAMES}}
json.dump(out, open("gpt2_grads.json", "w"))
print("seq0 loss", float(l0), "padded loss", float(lp))
