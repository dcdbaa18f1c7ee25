#!/usr/bin/python3
"""transformers' Trainer loop on the torch-sgd-mlp reference, in plain PyTorch: AdamW (biases exempt from
weight decay), linear schedule with warmup, gradient accumulation (loss / gas), clip_grad_norm_.
Prints JSON: per-step mean loss and per-parameter checksums after the last step.
Usage: /usr/bin/python3 ref_adamw_mlp.py DIR  (DIR holds init/*.f32 and data/x.f32, data/y.i32)"""
import json, sys, math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
d = sys.argv[1]
LR, WD, WARMUP, STEPS, GAS, BS, MAXNORM = 1e-3, 0.01, 2, 5, 2, 64, 1.0
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
shapes = {"0.weight": (512, 784), "0.bias": (512,), "2.weight": (512, 512), "2.bias": (512,),
          "4.weight": (10, 512), "4.bias": (10,)}
model.load_state_dict({n: torch.from_numpy(np.fromfile("%s/init/%s.f32" % (d, n), dtype="<f4").reshape(s).copy())
                       for n, s in shapes.items()})
x = torch.from_numpy(np.fromfile(d + "/data/x.f32", dtype="<f4").reshape(-1, 784).copy())
y = torch.from_numpy(np.fromfile(d + "/data/y.i32", dtype="<i4").copy()).long()
decay = [p for n, p in model.named_parameters() if not n.endswith("bias")]
no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=LR, betas=(0.9, 0.999), eps=1e-8)
def lr_lambda(step):  # transformers get_linear_schedule_with_warmup
    if step < WARMUP:
        return float(step) / float(max(1, WARMUP))
    return max(0.0, float(STEPS - step) / float(max(1, STEPS - WARMUP)))
sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
losses, norms, lrs = [], [], []
for s in range(STEPS):
    total = 0.0
    for m in range(GAS):
        lo = (s * GAS + m) * BS
        loss = F.cross_entropy(model(x[lo:lo + BS]), y[lo:lo + BS])
        (loss / GAS).backward()
        total += loss.item() / GAS
    norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), MAXNORM).item())
    lrs.append(sched.get_last_lr()[0])
    opt.step()
    sched.step()
    opt.zero_grad()
    losses.append(total)
ck = {n: dict(sum=p.detach().double().sum().item(), l2=p.detach().double().norm().item())
      for n, p in model.named_parameters()}
print(json.dumps(dict(loss=losses, grad_norm=norms, lr=lrs, checksums_after_step_4=ck), indent=1))
