#!/usr/bin/python3
"""Writes to_bf16.pt: a TorchScript module whose forward returns its input as bfloat16, so that a test can hold a
bfloat16 tensor (DJL itself cannot make one) and check that sparkformers refuses it with an exception.
    /usr/bin/python3 training-ddp/src/test/resources/dtype/make_to_bf16.py
Written with Debian's python3-torch 1.13.
"""
import os

import torch


class ToBf16(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.bfloat16)


torch.jit.script(ToBf16()).save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "to_bf16.pt"))
