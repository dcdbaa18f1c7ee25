package io.sparkformers.evaluate;

/** One ROUGE type's values, as rouge-score's {@code Score}: precision, recall and F-measure, 0–1. */
public record RougeScore(double precision, double recall, double fmeasure) {}
