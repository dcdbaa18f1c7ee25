#!/usr/bin/python3
"""Writes bucket_views.pt: gradients that live in the data-parallel gradient buckets (DDP's gradient_as_bucket_view).

io.sparkformers.training.ddp.GradientBuckets binds each parameter's gradient to its slice of a bucket once the
gradients exist: backward then accumulates straight into the memory the all-reduce reads and writes, so the
copies into the buckets and back disappear. TorchScript cannot assign param.grad, but Tensor.set_ re-points
the gradient tensor itself (the one AccumulateGrad adds into, in place, as long as it is never set to None;
the Trainer zeroes gradients in place). unbind gives every gradient its own memory again before the buckets'
memory goes away.

The archive is generated once and committed (the build never needs Python):
    /usr/bin/python3 training-ddp/src/main/torchscript/bucket_views.py \
        training-ddp/src/main/resources/io/sparkformers/training/ddp/bucket_views.pt
Written with Debian's python3-torch 1.13.1; libtorch 2.7.1 (DJL 0.36) loads it.
"""
import sys
from typing import List

import torch


class BucketViews(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TorchScript modules need a forward; GradientBuckets calls the exported methods below.
        return x

    @torch.jit.export
    def bind(self, grads: List[torch.Tensor], views: List[torch.Tensor]) -> None:
        # Each gradient keeps its values and from now on lives in its view's memory.
        with torch.no_grad():
            for i in range(len(grads)):
                views[i].copy_(grads[i])
                grads[i].set_(views[i])

    @torch.jit.export
    def unbind(self, grads: List[torch.Tensor]) -> None:
        # Each gradient keeps its values in memory of its own.
        with torch.no_grad():
            for i in range(len(grads)):
                grads[i].set_(grads[i].clone())


if __name__ == "__main__":
    torch.jit.script(BucketViews()).save(sys.argv[1])
