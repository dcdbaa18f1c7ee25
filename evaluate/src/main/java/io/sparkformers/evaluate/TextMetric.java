package io.sparkformers.evaluate;

import java.io.Serializable;
import java.util.List;

/**
 * A metric over (prediction, references) pairs, held as mergeable sufficient statistics: any order of
 * {@link #add} calls and any grouping of {@link #merge}s give the same {@link #compute} result.
 *
 * @param <S> the statistics; mutable, serializable, owned by one thread at a time
 */
public interface TextMetric<S extends Serializable> extends Serializable {
  /** The metric's name, also its SQL function name. */
  String name();

  /** Statistics of an empty corpus. */
  S newState();

  /**
   * Adds one example. {@code null} entries of {@code references} are dropped (sacrebleu's padding for a varying
   * number of references); a null prediction, a null list or no references left is an {@link InvalidInputException}.
   */
  void add(S state, String prediction, List<String> references);

  /** Adds {@code other}'s statistics into {@code into} and returns it. */
  S merge(S into, S other);

  /** The metric's values for the statistics so far. */
  MetricResult compute(S state);

  /** Checks one example as {@link #add} does; returns the references left after dropping nulls. */
  static List<String> checkedReferences(String prediction, List<String> references) {
    if (prediction == null) {
      throw new InvalidInputException("prediction is null; expected a string");
    }
    if (references == null) {
      throw new InvalidInputException("references is null; expected a list of strings");
    }
    boolean hasNull = false;
    for (String r : references) {
      if (r == null) {
        hasNull = true;
        break;
      }
    }
    List<String> refs = references;
    if (hasNull) {
      refs = new java.util.ArrayList<>();
      for (String r : references) {
        if (r != null) {
          refs.add(r);
        }
      }
    }
    if (refs.isEmpty()) {
      throw new InvalidInputException("no references for this prediction; expected at least one string");
    }
    return refs;
  }
}
