#!/usr/bin/python3
"""Writes loss_kernels.pt: a language-model head and its cross-entropy, fused and computed chunk by chunk.

A causal LM's training step spends a tenth of its time after the last hidden state (GPT-like, vocabulary 8000,
1024 tokens per batch): the [tokens, vocab] logits, log_softmax over them, the zeroed tensor nll_loss's backward
scatters into, and log_softmax's backward are four passes over tensors of 32 MB, each freshly allocated (page
faults). This method takes the hidden states and the head's weight and computes, a block of rows at a time,
the logits, the rows' losses and the gradient of the mean loss with respect to both inputs: the block's
(softmax - one-hot) / count is made in place in the block's logits and multiplied out at once, so no tensor the
size of the whole logits ever exists (the approach of Liger-Kernel's fused linear cross-entropy). The mean and
the ignored label (-100) are torch's F.cross_entropy's; values agree with it to float rounding, not bit for bit.
io.sparkformers.training.models.internal.FusedLinearCrossEntropy puts the gradients back into the autograd
graph.

The archive is generated once and committed (the build never needs Python):
    /usr/bin/python3 training-ddp/src/main/torchscript/loss_kernels.py \
        training-ddp/src/main/resources/io/sparkformers/training/models/internal/loss_kernels.pt
Written with Debian's python3-torch 1.13.1; libtorch 2.7.1 (DJL 0.36) loads it.
"""
import sys
from typing import List

import torch


class LossKernels(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TorchScript modules need a forward; FusedLinearCrossEntropy calls the exported method below.
        return x

    @torch.jit.export
    def linear_cross_entropy(self, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                             ignore_index: int, workspace: torch.Tensor, grad_hidden: torch.Tensor,
                             grad_weight: torch.Tensor) -> torch.Tensor:
        # hidden [rows, d], weight [vocab, d] (logits = hidden @ weight.T, no bias), labels [rows] int64.
        # Returns the loss (a scalar) and overwrites grad_hidden with d loss / d hidden and grad_weight with
        # d loss / d weight. workspace [block_rows, vocab] holds one block of logits at a time; the caller keeps
        # it from step to step, so its pages are not faulted in again each time. The caller allocates those two: DJL runs TorchScript methods in
        # inference mode, and tensors made here could not be saved for backward. No graph is recorded.
        with torch.no_grad():
            rows = hidden.size(0)
            counted = labels != ignore_index
            count = counted.sum()
            # Ignored rows pick class 0 (any valid index) and are then masked out of the loss and gradient.
            picked = torch.where(counted, labels, torch.zeros_like(labels))
            # count == 0 gives inf here, and NaN below, as torch's mean over no tokens.
            row_scale = counted.to(hidden.dtype) / count.to(hidden.dtype)
            row_loss = torch.empty([rows], dtype=hidden.dtype, device=hidden.device)
            block_rows = workspace.size(0)
            for start in range(0, rows, block_rows):
                end = min(start + block_rows, rows)
                h = hidden[start:end]
                y = picked[start:end].unsqueeze(1)
                logits = workspace[0:end - start]  # every pass over it below is in place
                torch.mm(h, weight.t(), out=logits)
                # log_softmax as torch computes it: x - max - log(sum(exp(x - max))).
                logits.sub_(logits.amax(1, keepdim=True))
                target = logits.gather(1, y).squeeze(1)
                logits.exp_()
                sums = logits.sum(1)
                row_loss[start:end] = sums.log() - target
                # The block becomes its rows' gradient: (softmax - one-hot) / count, 0 where the label is ignored.
                scale = row_scale[start:end]
                logits.mul_((scale / sums).unsqueeze(1))
                logits.scatter_add_(1, y, scale.neg().unsqueeze(1))
                torch.mm(logits, weight, out=grad_hidden[start:end])
                if start == 0:
                    torch.mm(logits.t(), h, out=grad_weight)
                else:
                    grad_weight.addmm_(logits.t(), h)
            return torch.where(counted, row_loss, torch.zeros_like(row_loss)).sum() / count

if __name__ == "__main__":
    torch.jit.script(LossKernels()).save(sys.argv[1])
