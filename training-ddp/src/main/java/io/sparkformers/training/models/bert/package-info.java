/**
 * BERT ({@code model_type: bert}): its config, BertForSequenceClassification as a module tree, and its registration.
 */
package io.sparkformers.training.models.bert;
