package io.sparkformers.evaluate;

/** What a Spark aggregation or the command line does with a bad row (a null prediction, no references, ...). */
public enum BadRowPolicy {
  /** Fail the job with a message naming the column and showing the row. */
  FAIL,
  /** Leave the row out and report how many were left out ("skipped" in the result). */
  SKIP
}
