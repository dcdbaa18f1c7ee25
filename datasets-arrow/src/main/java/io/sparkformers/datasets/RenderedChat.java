package io.sparkformers.datasets;

import java.util.List;

/**
 * A conversation rendered by a {@link ChatTemplate}: the text, and the character spans of it that the template's
 * {@code {% generation %}} blocks wrote (the assistant's words, which supervised fine-tuning trains on; what
 * transformers' {@code return_assistant_tokens_mask} is built from). No spans when the template has no such block.
 */
public record RenderedChat(String text, List<Span> generationSpans) {
  public RenderedChat {
    generationSpans = List.copyOf(generationSpans);
  }

  /** Characters {@code [start, end)} of {@link #text()}. */
  public record Span(int start, int end) {
    public Span {
      if (start < 0 || end < start) {
        throw new IllegalArgumentException("bad span [" + start + ", " + end + ")");
      }
    }
  }
}
