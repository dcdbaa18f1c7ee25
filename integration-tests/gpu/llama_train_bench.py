#!/usr/bin/python3
"""PyTorch eager baseline for check 4 of device-check.sh: training tokens per second of the same Llama shape.

Model (plain PyTorch, written out as transformers' LlamaForCausalLM computes it with eager attention, as the
Java model does): hidden 2048, intermediate 5632, 16 layers, 32 attention heads, 8 key/value heads (head_dim 64),
vocab 32000, untied LM head, RMSNorm eps 1e-5 in float32, rotary theta 10000, no biases, dropout 0:
852,559,872 parameters (the Java check prints its count for comparison).
Training step: zero_grad, forward under torch.autocast("cuda", dtype=torch.bfloat16), the causal-LM loss on the
float32 logits, backward, fused AdamW (lr 1e-4) — float32 master weights, as transformers' bf16=True.
Timed: --steps steps after --warmup untimed ones, random tokens, batch --batch x --seq; tokens/s = timed tokens
over the time between two torch.cuda.synchronize() calls. --sdpa uses F.scaled_dot_product_attention (flash
attention) instead of the eager matmul-softmax-matmul, for reference.

Usage (on the GPU machine):
    python3 integration-tests/gpu/llama_train_bench.py [--batch 8] [--seq 1024] [--steps 4] [--warmup 2] [--sdpa]
Prints "PYTORCH_TOKENS_PER_SECOND <n> B=<batch> T=<seq>" last.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, HIDDEN, INTER, LAYERS, HEADS, KV_HEADS = 32000, 2048, 5632, 16, 32, 8
HEAD_DIM = HIDDEN // HEADS


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class Layer(nn.Module):
    def __init__(self, sdpa):
        super().__init__()
        self.sdpa = sdpa
        self.q_proj = nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)
        self.gate_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.down_proj = nn.Linear(INTER, HIDDEN, bias=False)
        self.input_layernorm = RMSNorm(HIDDEN)
        self.post_attention_layernorm = RMSNorm(HIDDEN)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(h).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(h).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        g = HEADS // KV_HEADS
        k = k[:, :, None].expand(b, KV_HEADS, g, t, HEAD_DIM).reshape(b, HEADS, t, HEAD_DIM)
        v = v[:, :, None].expand(b, KV_HEADS, g, t, HEAD_DIM).reshape(b, HEADS, t, HEAD_DIM)
        if self.sdpa:
            o = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, is_causal=True)
        else:
            w = torch.matmul(q, k.transpose(2, 3)) * (HEAD_DIM ** -0.5) + mask
            w = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
            o = torch.matmul(w, v)
        x = x + self.o_proj(o.transpose(1, 2).reshape(b, t, HIDDEN))
        f = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(f)) * self.up_proj(f))


class Llama(nn.Module):
    def __init__(self, sdpa):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(Layer(sdpa) for _ in range(LAYERS))
        self.norm = RMSNorm(HIDDEN)
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids):
        b, t = ids.shape
        x = self.embed_tokens(ids)
        with torch.autocast(device_type="cuda", enabled=False):
            inv = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2, device=ids.device).float() / HEAD_DIM))
            freqs = torch.arange(t, device=ids.device).float()[:, None] * inv[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((t, t), torch.finfo(torch.float32).min, device=ids.device).triu(1)[None, None]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--sdpa", action="store_true")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    model = Llama(a.sdpa).cuda()
    n = sum(p.numel() for p in model.parameters())
    print("pytorch model: %d parameters, torch %s, %s attention" % (n, torch.__version__,
                                                                   "sdpa" if a.sdpa else "eager"))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, VOCAB, (a.batch, a.seq), device="cuda")
    start = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            torch.cuda.synchronize()
            start = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            logits = model(ids)
        loss = F.cross_entropy(logits.float()[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print("loss %.4f, peak memory %.1f GiB" % (loss.item(), torch.cuda.max_memory_allocated() / 2 ** 30))
    print("PYTORCH_TOKENS_PER_SECOND %.0f B=%d T=%d" % (a.steps * a.batch * a.seq / seconds, a.batch, a.seq))


if __name__ == "__main__":
    main()
