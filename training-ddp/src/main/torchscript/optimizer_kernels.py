#!/usr/bin/python3
"""Writes optimizer_kernels.pt: torch.optim's single-tensor SGD and AdamW updates as a TorchScript module.

The optimizers of io.sparkformers.training.optim run these methods inside libtorch, one native call per step:
every parameter is updated in place by torch's own operators (add_ with alpha, addcmul_, addcdiv_), so the
rounding is torch's and no temporary the size of the model is made. The bodies follow torch 1.13's
_single_tensor_sgd and _single_tensor_adamw (amsgrad=False, maximize=False) line for line; weight decay is given
per parameter (torch's parameter groups; transformers exempts biases and norm weights).

The archive is generated once and committed (the build never needs Python):
    /usr/bin/python3 training-ddp/src/main/torchscript/optimizer_kernels.py \
        training-ddp/src/main/resources/io/sparkformers/training/optim/optimizer_kernels.pt
Written with Debian's python3-torch 1.13.1; libtorch 2.7.1 (DJL 0.36) loads it.
"""
import math
import sys
from typing import List

import torch


class OptimizerKernels(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TorchScript modules need a forward; the optimizers call the exported methods below.
        return x

    @torch.jit.export
    def sgd(self, params: List[torch.Tensor], grads: List[torch.Tensor], momentum_buffers: List[torch.Tensor],
            weight_decays: List[float], lr: float, momentum: float, dampening: float, nesterov: bool,
            first_step: bool) -> None:
        # first_step: the momentum buffers are new (torch's "buf is None"): they take d_p as it is.
        with torch.no_grad():
            for i in range(len(params)):
                param = params[i]
                d_p = grads[i]
                weight_decay = weight_decays[i]
                if weight_decay != 0:
                    d_p = d_p.add(param, alpha=weight_decay)
                if momentum != 0:
                    buf = momentum_buffers[i]
                    if first_step:
                        buf.copy_(d_p)
                    else:
                        buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                    if nesterov:
                        d_p = d_p.add(buf, alpha=momentum)
                    else:
                        d_p = buf
                param.add_(d_p, alpha=-lr)

    @torch.jit.export
    def adamw(self, params: List[torch.Tensor], grads: List[torch.Tensor], exp_avgs: List[torch.Tensor],
              exp_avg_sqs: List[torch.Tensor], weight_decays: List[float], step: float, lr: float, beta1: float,
              beta2: float, eps: float) -> None:
        # step: the step count after this update (torch's state['step'] once incremented), the same for all.
        with torch.no_grad():
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = math.sqrt(bias_correction2)
            for i in range(len(params)):
                param = params[i]
                grad = grads[i]
                exp_avg = exp_avgs[i]
                exp_avg_sq = exp_avg_sqs[i]
                if weight_decays[i] != 0:  # torch multiplies by 1 - lr * 0 = 1 here: the same values
                    param.mul_(1 - lr * weight_decays[i])
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-step_size)


if __name__ == "__main__":
    torch.jit.script(OptimizerKernels()).save(sys.argv[1])
