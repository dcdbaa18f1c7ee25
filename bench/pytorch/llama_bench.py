#!/usr/bin/python3
"""PyTorch baseline for `sparkformers bench models --model llama`: the same small Llama, timed the same way.

Model (plain PyTorch, written out as transformers' LlamaForCausalLM computes it, eager attention):
  hidden 256, 4 layers, 4 attention heads, 2 key/value heads (grouped-query attention, head_dim 64),
  SwiGLU MLP with intermediate 688, RMSNorm (eps 1e-6, in float32), rotary embeddings (theta 10000),
  vocab 8000, untied LM head, no biases, dropout 0: 6,998,272 parameters, as the Java bench reports.
  --shape 1b: hidden 2048, 16 layers, 32/8 heads, intermediate 8192, vocab 32000, tied embeddings.

Measured (medians over --steps timed steps after --warmup untimed ones), batch 8 x 128 random tokens:
  forward           no grad, logits and the causal-LM loss
  training forward  zero_grad + forward with the graph recorded (as ddp_train_bench.py times "fwd")
  forward+backward  zero_grad + forward + backward (no optimizer step)
  generation        greedy, --prompt-tokens prompt, --new-tokens new tokens, with the key/value cache and
                    without it (every step recomputes the whole sequence): new tokens per second

Threads: --threads intra-op threads (default 1, as the Java bench), with OMP_WAIT_POLICY=PASSIVE set before
torch loads unless already set (on a shared 2-core machine libgomp's spinning slows runs sharing a core).

Usage:
  /usr/bin/python3 bench/pytorch/llama_bench.py
  /usr/bin/python3 bench/pytorch/llama_bench.py --json
  ./sparkformers bench models --model llama          # the same measurement in sparkformers
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SHAPES = {
    "small": dict(vocab=8000, hidden=256, layers=4, heads=4, kv_heads=2, intermediate=688, tied=False,
                  name="llama d256 L4 H4 KV2 ff688 ctx128 vocab8000"),
    "1b": dict(vocab=32000, hidden=2048, layers=16, heads=32, kv_heads=8, intermediate=8192, tied=True,
               name="llama-1b d2048 L16 H32 KV8 ff8192 ctx128 vocab32000 tied"),
}
CONTEXT = 128


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, mask, cache):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache:
                k = torch.cat((cache[0], k), dim=2)
                v = torch.cat((cache[1], v), dim=2)
            cache[:] = [k, v]
        rep = self.heads // self.kv_heads  # transformers' repeat_kv
        k = k[:, :, None].expand(b, self.kv_heads, rep, k.shape[2], self.head_dim).reshape(b, self.heads, -1,
                                                                                           self.head_dim)
        v = v[:, :, None].expand(b, self.kv_heads, rep, v.shape[2], self.head_dim).reshape(b, self.heads, -1,
                                                                                           self.head_dim)
        w = torch.matmul(q, k.transpose(2, 3)) * self.head_dim ** -0.5 + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        return self.o_proj(torch.matmul(w, v).transpose(1, 2).reshape(b, t, -1))


class Layer(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.self_attn = Attention(s["hidden"], s["heads"], s["kv_heads"])
        self.gate_proj = nn.Linear(s["hidden"], s["intermediate"], bias=False)
        self.up_proj = nn.Linear(s["hidden"], s["intermediate"], bias=False)
        self.down_proj = nn.Linear(s["intermediate"], s["hidden"], bias=False)
        self.input_layernorm = RMSNorm(s["hidden"])
        self.post_attention_layernorm = RMSNorm(s["hidden"])

    def forward(self, x, cos, sin, mask, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, s, theta=10000.0):
        super().__init__()
        self.embed_tokens = nn.Embedding(s["vocab"], s["hidden"])
        self.layers = nn.ModuleList(Layer(s) for _ in range(s["layers"]))
        self.norm = RMSNorm(s["hidden"])
        self.lm_head = None if s["tied"] else nn.Linear(s["hidden"], s["vocab"], bias=False)
        dim = s["hidden"] // s["heads"]
        inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, caches=None):
        b, t = ids.shape
        past = caches[0][0].shape[2] if caches and caches[0] else 0
        pos = torch.arange(past, past + t, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((t, past + t), torch.finfo(torch.float32).min).triu(past + 1)
        x = self.embed_tokens(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, None if caches is None else caches[i])
        x = self.norm(x)
        return F.linear(x, self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight)


def loss_of(logits, ids):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def generate_tokens_per_s(model, prompt, new_tokens, use_cache):
    def run(n):
        with torch.no_grad():
            ids = prompt
            caches = [[] for _ in model.layers] if use_cache else None
            step_input = ids
            for _ in range(n):
                logits = model(step_input, caches)
                token = logits[:, -1].argmax(-1, keepdim=True)
                ids = torch.cat((ids, token), dim=1)
                step_input = token if use_cache else ids
        return n * prompt.shape[0]

    run(min(4, new_tokens))
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        tokens = run(new_tokens)
        rates.append(tokens / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="small", choices=sorted(SHAPES))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--generate-batch", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    a = ap.parse_args()
    if a.prompt_tokens + a.new_tokens > CONTEXT:
        sys.exit("prompt + new tokens <= %d" % CONTEXT)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    s = SHAPES[a.shape]
    model = Llama(s)
    params = sum(p.numel() for p in model.parameters())
    forward, training_forward, forward_backward = [], [], []
    for step in range(a.warmup + a.steps):
        ids = torch.randint(0, s["vocab"], (a.batch, CONTEXT))
        with torch.no_grad():
            t0 = time.perf_counter()
            loss_of(model(ids), ids).item()
            t1 = time.perf_counter()
        t2 = time.perf_counter()
        model.zero_grad(set_to_none=False)
        loss = loss_of(model(ids), ids)
        loss.item()
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        if step >= a.warmup:
            forward.append(t1 - t0)
            training_forward.append(t3 - t2)
            forward_backward.append(t4 - t2)
    model.zero_grad(set_to_none=True)
    prompt = torch.randint(0, s["vocab"], (a.generate_batch, a.prompt_tokens))
    cached = generate_tokens_per_s(model, prompt, a.new_tokens, True)
    full = generate_tokens_per_s(model, prompt, a.new_tokens, False)
    fwd, train_fwd, fwd_bwd = (statistics.median(x) for x in (forward, training_forward, forward_backward))
    if a.json:
        print(json.dumps({"model": s["name"], "framework": "pytorch " + torch.__version__, "params": params,
                          "batch": a.batch, "threads": a.threads, "steps": a.steps, "forward_s": fwd,
                          "training_forward_s": train_fwd, "forward_backward_s": fwd_bwd,
                          "tokens_per_s_train": a.batch * CONTEXT / fwd_bwd, "generate_prompt": a.prompt_tokens,
                          "generate_new": a.new_tokens, "generate_batch": a.generate_batch,
                          "generate_tokens_per_s_cache": cached, "generate_tokens_per_s_no_cache": full}))
        return
    print("%s (%s parameters), PyTorch %s, batch %d, %d thread(s), median of %d steps"
          % (s["name"], format(params, ","), torch.__version__, a.batch, a.threads, a.steps))
    print("  forward, no grad  %8.1f ms" % (fwd * 1e3))
    print("  forward, grad on  %8.1f ms  (zero_grad + forward)" % (train_fwd * 1e3))
    print("  forward+backward  %8.1f ms  (%.0f tokens/s)" % (fwd_bwd * 1e3, a.batch * CONTEXT / fwd_bwd))
    print("greedy generation, %d prompt(s) of %d tokens, %d new tokens each:"
          % (a.generate_batch, a.prompt_tokens, a.new_tokens))
    print("  with KV cache     %8.1f tokens/s" % cached)
    print("  without cache     %8.1f tokens/s" % full)


if __name__ == "__main__":
    main()
