#!/usr/bin/python3
"""Writes autocast_kernels.pt: the matrix products of torch's autocast (bf16 or fp16) as TorchScript methods.

DJL 0.36's PyTorch JNI cannot name the bfloat16 dtype: every call that passes a dtype (toType, create, zeros,
...) with DJL's BFLOAT16 ends in a bare C++ `throw;` and aborts the JVM, and DJL reports a bf16 tensor's dtype as
UNKNOWN, so a bf16 tensor handed back to Java code would abort the JVM at the next dtype-passing call. These
methods cast their float32 inputs to the half type inside libtorch, multiply there, and widen the product to
float32 before it returns: the product has torch autocast's half-precision rounding, and no half tensor ever
reaches Java. io.sparkformers.training.internal.Autocast calls them in training mode (autograd records the casts
and the product, so the gradients flow back to the float32 master weights as torch's do).

half selects the type: False bfloat16, True float16.

The archive is generated once and committed (the build never needs Python):
    /usr/bin/python3 training-ddp/src/main/torchscript/autocast_kernels.py \
        training-ddp/src/main/resources/io/sparkformers/training/internal/autocast_kernels.pt
Written with Debian's python3-torch 1.13; libtorch 2.7.1 (DJL 0.36) loads it.
"""
import sys
import torch


class AutocastKernels(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TorchScript modules need a forward; Autocast calls the exported methods below.
        return x

    @torch.jit.export
    def linear(self, x: torch.Tensor, weight: torch.Tensor, half: bool) -> torch.Tensor:
        # torch.nn.functional.linear (no bias) under autocast: the operands in the half type, the result widened.
        dt = torch.float16 if half else torch.bfloat16
        return torch.nn.functional.linear(x.to(dt), weight.to(dt)).to(torch.float32)

    @torch.jit.export
    def linear_bias(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, half: bool) -> torch.Tensor:
        # The same with a bias (DJL has no IValue for None, so a method each).
        dt = torch.float16 if half else torch.bfloat16
        return torch.nn.functional.linear(x.to(dt), weight.to(dt), bias.to(dt)).to(torch.float32)

    @torch.jit.export
    def matmul(self, a: torch.Tensor, b: torch.Tensor, half: bool) -> torch.Tensor:
        # torch.matmul under autocast.
        dt = torch.float16 if half else torch.bfloat16
        return torch.matmul(a.to(dt), b.to(dt)).to(torch.float32)

    @torch.jit.export
    def round_trip(self, x: torch.Tensor, half: bool) -> torch.Tensor:
        # x rounded to the half type and widened again: what a value stored in it holds.
        dt = torch.float16 if half else torch.bfloat16
        return x.to(dt).to(torch.float32)


if __name__ == "__main__":
    torch.jit.script(AutocastKernels()).save(sys.argv[1])
