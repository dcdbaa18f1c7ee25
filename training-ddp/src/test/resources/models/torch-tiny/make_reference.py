#!/usr/bin/python3
"""Writes the tiny mlp and BERT references used by training-ddp's model tests, with PyTorch (Debian's
python3-torch 1.13). transformers is not installable here, so the BERT forward below is written in plain torch
to transformers' BertForSequenceClassification (modeling_bert.py, v4.40): names, layouts, exact-erf gelu,
post-LN layers, finfo.min additive mask, tanh pooler over token 0. Safetensors files are written by hand
(8-byte little-endian header length, JSON header, raw little-endian data), independently of our writer.

Run: /usr/bin/python3 make_reference.py   (in this folder)
"""
import json, math, os, struct
import torch
import torch.nn.functional as F

def save_safetensors(path, tensors):
    names = sorted(tensors)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for n in names:
        b = tensors[n].detach().contiguous().numpy().astype('<f4').tobytes()
        header[n] = {"dtype": "F32", "shape": list(tensors[n].shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)

def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]

torch.manual_seed(7)
# ---- mlp: nn.Sequential(Linear(6,5), ReLU, Linear(5,4), ReLU, Linear(4,3)) ----
mlp = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4), torch.nn.ReLU(),
                          torch.nn.Linear(4, 3))
x = torch.randn(4, 6)
y = torch.tensor([0, 2, 1, 2])
logits = mlp(x)
loss = F.cross_entropy(logits, y)
loss.backward()
os.makedirs("mlp", exist_ok=True)
save_safetensors("mlp/model.safetensors", dict(mlp.named_parameters()))
json.dump({"model_type": "mlp", "architectures": ["MlpForClassification"], "input_size": 6,
           "hidden_sizes": [5, 4], "num_labels": 3, "hidden_act": "relu"}, open("mlp/config.json", "w"), indent=2)
mlp_ref = {"features": flat(x), "labels": y.tolist(), "logits": flat(logits), "loss": float(loss),
           "grads": {n: flat(p.grad) for n, p in mlp.named_parameters()}}

# ---- bert: BertForSequenceClassification, tiny ----
cfg = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
           max_position_embeddings=20, type_vocab_size=2, layer_norm_eps=1e-12, num_labels=3)
H, L, NH, I = 16, 2, 2, 32
g = torch.Generator().manual_seed(11)
P = {}
def rnd(name, *shape, std=0.3):
    P[name] = (torch.randn(*shape, generator=g) * std).requires_grad_()
rnd("bert.embeddings.word_embeddings.weight", 50, H)
rnd("bert.embeddings.position_embeddings.weight", 20, H)
rnd("bert.embeddings.token_type_embeddings.weight", 2, H)
rnd("bert.embeddings.LayerNorm.weight", H); rnd("bert.embeddings.LayerNorm.bias", H)
for i in range(L):
    p = f"bert.encoder.layer.{i}."
    for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
        rnd(p + n + ".weight", H, H); rnd(p + n + ".bias", H)
    rnd(p + "attention.output.LayerNorm.weight", H); rnd(p + "attention.output.LayerNorm.bias", H)
    rnd(p + "intermediate.dense.weight", I, H); rnd(p + "intermediate.dense.bias", I)
    rnd(p + "output.dense.weight", H, I); rnd(p + "output.dense.bias", H)
    rnd(p + "output.LayerNorm.weight", H); rnd(p + "output.LayerNorm.bias", H)
rnd("bert.pooler.dense.weight", H, H); rnd("bert.pooler.dense.bias", H)
rnd("classifier.weight", 3, H); rnd("classifier.bias", 3)

def bert(ids, tt, mask):
    B, T = ids.shape
    pos = torch.arange(T)[None, :]
    e = F.embedding(ids, P["bert.embeddings.word_embeddings.weight"]) \
        + F.embedding(tt, P["bert.embeddings.token_type_embeddings.weight"])
    e = e + F.embedding(pos, P["bert.embeddings.position_embeddings.weight"])
    h = F.layer_norm(e, (H,), P["bert.embeddings.LayerNorm.weight"], P["bert.embeddings.LayerNorm.bias"], 1e-12)
    ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    d = H // NH
    for i in range(L):
        p = f"bert.encoder.layer.{i}."
        lin = lambda t, n: F.linear(t, P[p + n + ".weight"], P[p + n + ".bias"])
        sh = lambda t: t.view(B, T, NH, d).permute(0, 2, 1, 3)
        q, k, v = sh(lin(h, "attention.self.query")), sh(lin(h, "attention.self.key")), sh(lin(h, "attention.self.value"))
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + ext
        ctx = torch.matmul(F.softmax(w, dim=-1), v).permute(0, 2, 1, 3).reshape(B, T, H)
        a = F.layer_norm(lin(ctx, "attention.output.dense") + h, (H,), P[p + "attention.output.LayerNorm.weight"],
                         P[p + "attention.output.LayerNorm.bias"], 1e-12)
        inter = F.gelu(lin(a, "intermediate.dense"))
        h = F.layer_norm(lin(inter, "output.dense") + a, (H,), P[p + "output.LayerNorm.weight"],
                         P[p + "output.LayerNorm.bias"], 1e-12)
    pooled = torch.tanh(F.linear(h[:, 0], P["bert.pooler.dense.weight"], P["bert.pooler.dense.bias"]))
    return F.linear(pooled, P["classifier.weight"], P["classifier.bias"])

ids = torch.tensor([[1, 7, 23, 9, 4, 2], [1, 30, 12, 2, 0, 0], [1, 44, 2, 0, 0, 0]])
tt = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]])
mask = (ids != 0).long()
labels = torch.tensor([2, 0, 1])
bl = bert(ids, tt, mask)
bloss = F.cross_entropy(bl, labels)
bloss.backward()
os.makedirs("bert", exist_ok=True)
save_safetensors("bert/model.safetensors", P)
json.dump({"model_type": "bert", "architectures": ["BertForSequenceClassification"], **{k: v for k, v in cfg.items() if k != "num_labels"},
           "hidden_act": "gelu", "id2label": {"0": "neg", "1": "neu", "2": "pos"},
           "label2id": {"neg": 0, "neu": 1, "pos": 2}, "pad_token_id": 0}, open("bert/config.json", "w"), indent=2)
bert_ref = {"input_ids": ids.tolist(), "token_type_ids": tt.tolist(), "attention_mask": mask.tolist(),
            "labels": labels.tolist(), "logits": flat(bl), "loss": float(bloss),
            "grad_word_embeddings": flat(P["bert.embeddings.word_embeddings.weight"].grad)[:64],
            "grad_classifier_weight": flat(P["classifier.weight"].grad)}
json.dump({"torch": torch.__version__, "mlp": mlp_ref, "bert": bert_ref}, open("reference.json", "w"))
print("ok", float(loss), float(bloss))
