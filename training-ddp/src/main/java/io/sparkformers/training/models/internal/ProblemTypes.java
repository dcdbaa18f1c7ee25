package io.sparkformers.training.models.internal;

import java.util.Set;

/** transformers' {@code problem_type} values for sequence classification heads. */
public final class ProblemTypes {
  public static final String REGRESSION = "regression";
  public static final String SINGLE_LABEL = "single_label_classification";
  public static final String MULTI_LABEL = "multi_label_classification";
  public static final Set<String> ALL = Set.of(REGRESSION, SINGLE_LABEL, MULTI_LABEL);

  private ProblemTypes() {}
}
