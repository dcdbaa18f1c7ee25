/**
 * Internals of {@code io.sparkformers.evaluate}: ports of the reference tools' text rules (Python's
 * whitespace and lower-casing, sacrebleu's tokenizers, rouge-score's tokenizer, nltk's Porter stemmer), number
 * formatting as Python prints it, and small primitive hash maps. Users never import this package.
 */
package io.sparkformers.evaluate.internal;
