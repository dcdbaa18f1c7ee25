package io.sparkformers.training.models;

import java.util.Set;

/** transformers' {@code problem_type} values for sequence classification heads. */
final class ProblemTypes {
  static final String REGRESSION = "regression";
  static final String SINGLE_LABEL = "single_label_classification";
  static final String MULTI_LABEL = "multi_label_classification";
  static final Set<String> ALL = Set.of(REGRESSION, SINGLE_LABEL, MULTI_LABEL);

  private ProblemTypes() {}
}
