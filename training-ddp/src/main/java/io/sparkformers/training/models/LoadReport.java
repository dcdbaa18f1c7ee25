package io.sparkformers.training.models;

import java.util.List;

/**
 * What loading a checkpoint found, as transformers reports it: parameters the checkpoint lacks (left at their
 * initial values), checkpoint tensors the model has no place for (ignored), and tensors whose shape differs
 * from the parameter's (left at their initial values).
 */
public record LoadReport(String source, List<String> missingKeys, List<String> unexpectedKeys,
    List<String> mismatchedKeys) {

  public LoadReport {
    missingKeys = List.copyOf(missingKeys);
    unexpectedKeys = List.copyOf(unexpectedKeys);
    mismatchedKeys = List.copyOf(mismatchedKeys);
  }

  static LoadReport none() {
    return new LoadReport("(initialised from config)", List.of(), List.of(), List.of());
  }

  public boolean isClean() {
    return missingKeys.isEmpty() && unexpectedKeys.isEmpty() && mismatchedKeys.isEmpty();
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder(source);
    if (!missingKeys.isEmpty()) {
      s.append("\n  missing keys (not in the checkpoint): ").append(missingKeys);
    }
    if (!unexpectedKeys.isEmpty()) {
      s.append("\n  unexpected keys (not in the model): ").append(unexpectedKeys);
    }
    if (!mismatchedKeys.isEmpty()) {
      s.append("\n  size mismatches: ").append(mismatchedKeys);
    }
    return s.toString();
  }
}
