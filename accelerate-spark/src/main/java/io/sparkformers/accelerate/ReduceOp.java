package io.sparkformers.accelerate;

/** How an all-reduce combines the ranks' values, element by element. */
public enum ReduceOp {
  SUM,
  /** The sum divided by the world size (for float types; integer types divide with truncation). */
  AVG,
  MAX,
  MIN
}
