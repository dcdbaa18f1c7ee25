import torch, json
torch.set_num_threads(1)
W0 = [[0.5, -1.25, 3.0], [0.125, -0.5, 2.0]]
b0 = [0.25, -0.75, 1.5]
def grad(k, shape_n, off):
    return [(((k + 1) * (i + 2 + off)) % 7 - 3) * 0.25 for i in range(shape_n)]
def run(make_opt, steps):
    W = torch.tensor(W0, requires_grad=True); b = torch.tensor(b0, requires_grad=True)
    opt = make_opt(W, b)
    for k in range(steps):
        opt.zero_grad()
        cW = torch.tensor(grad(k, 6, 0)).reshape(2, 3); cb = torch.tensor(grad(k, 3, 5))
        loss = (W * cW).sum() + (b * cb).sum()
        loss.backward()
        opt.step()
    return W.detach().reshape(-1).tolist(), b.detach().tolist()
out = {}
out["adamw"] = run(lambda W, b: torch.optim.AdamW([{"params": [W], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}], lr=1e-2, betas=(0.9, 0.999), eps=1e-8), 5)
out["sgd_momentum"] = run(lambda W, b: torch.optim.SGD([{"params": [W], "weight_decay": 0.01}, {"params": [b], "weight_decay": 0.0}], lr=0.1, momentum=0.9, dampening=0.1), 4)
out["sgd_nesterov"] = run(lambda W, b: torch.optim.SGD([W, b], lr=0.1, momentum=0.9, nesterov=True), 4)
# clipping
W = torch.tensor(W0, requires_grad=True); b = torch.tensor(b0, requires_grad=True)
((W * torch.tensor(grad(2, 6, 0)).reshape(2, 3)).sum() + (b * torch.tensor(grad(2, 3, 5))).sum()).backward()
n = torch.nn.utils.clip_grad_norm_([W, b], 1.0)
out["clip"] = [n.item(), W.grad.reshape(-1).tolist(), b.grad.tolist()]
for k, v in out.items(): print(k, json.dumps(v))
