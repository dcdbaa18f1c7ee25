/**
 * The {@code nccl} process group backend: NVIDIA NCCL on GPU memory, bound at run time through JNA to the
 * system's {@code libnccl.so.2} (no native code is built with sparkformers), with the CUDA driver's
 * {@code libcuda.so.1} to make the rank's device current. Host-memory collectives and the rendezvous stay on the
 * {@code tcp} backend, and where any rank cannot use NCCL every rank falls back to it.
 */
package io.sparkformers.accelerate.nccl;
