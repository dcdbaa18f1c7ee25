package io.sparkformers.training.internal;

/** The half type of autocast: bfloat16 ({@code bf16: true}) or float16 ({@code fp16: true}). */
public enum MixedPrecision {
  BF16,
  FP16
}
