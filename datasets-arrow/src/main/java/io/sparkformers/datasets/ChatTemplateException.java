package io.sparkformers.datasets;

/**
 * A chat template that cannot be used or that rejected a conversation. {@link #raisedByTemplate()} is true when
 * the template itself called {@code raise_exception(message)} (the message is the template's, as transformers
 * reports it): the conversation does not fit the template. Otherwise the template is broken or missing (a syntax
 * error names its line), or the data does not match what it expects.
 */
public final class ChatTemplateException extends IllegalArgumentException {
  private final boolean raisedByTemplate;

  public ChatTemplateException(String message, boolean raisedByTemplate) {
    super(message);
    this.raisedByTemplate = raisedByTemplate;
  }

  /** True when the template called {@code raise_exception}. */
  public boolean raisedByTemplate() {
    return raisedByTemplate;
  }
}
