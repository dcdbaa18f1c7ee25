#!/usr/bin/python3
"""Writes backward_segments.pt: whether a tensor records gradients, and freeing a boundary's gradient.

io.sparkformers.training.internal.BackwardSegments cuts a model's autograd graph at layer boundaries so that
backward can run one segment at a time (and each finished segment's gradient buckets can be all-reduced while
the next runs). A boundary is only cut where the tensor records gradients: DJL's requiresGrad is false for every
non-leaf tensor (it also tests is_leaf), and its grad_fn query dereferences a null grad_fn on a leaf, so the
plain flag is read here. Once a segment's backward has used a boundary's gradient, release empties it
(Tensor.set_() with no source: no storage), since the graph above still holds the boundary tensor, and with it
its gradient, until the batch is freed.

The archive is generated once and committed (the build never needs Python):
    /usr/bin/python3 training-ddp/src/main/torchscript/backward_segments.py \
        training-ddp/src/main/resources/io/sparkformers/training/internal/backward_segments.pt
Written with Debian's python3-torch 1.13.1; libtorch 2.7.1 (DJL 0.36) loads it.
"""
import sys

import torch


class BackwardSegments(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TorchScript modules need a forward; BackwardSegments calls the exported method below.
        return x

    @torch.jit.export
    def requires_grad(self, x: torch.Tensor) -> bool:
        return x.requires_grad

    @torch.jit.export
    def release(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            x.set_()


if __name__ == "__main__":
    torch.jit.script(BackwardSegments()).save(sys.argv[1])
