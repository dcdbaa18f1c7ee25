package io.sparkformers.datasets;

/**
 * How collators pad token sequences: the pad token id, the side (right for training, left for generation,
 * as a tokenizer's {@code padding_side}), and an optional multiple to round the batch's length up to.
 */
public final class Padding {
  /** Which end of a sequence receives the padding. */
  public enum Side { RIGHT, LEFT }

  private final int padTokenId;
  private final Side side;
  private final int padToMultipleOf;

  private Padding(Builder b) {
    if (b.padToMultipleOf < 0) {
      throw new IllegalArgumentException("padToMultipleOf must be 0 (off) or positive, got " + b.padToMultipleOf);
    }
    this.padTokenId = b.padTokenId;
    this.side = b.side;
    this.padToMultipleOf = b.padToMultipleOf;
  }

  public static Builder builder(int padTokenId) {
    return new Builder(padTokenId);
  }

  /** Right padding with {@code padTokenId}. */
  public static Padding right(int padTokenId) {
    return builder(padTokenId).build();
  }

  public int padTokenId() {
    return padTokenId;
  }

  public Side side() {
    return side;
  }

  public int padToMultipleOf() {
    return padToMultipleOf;
  }

  /** The padded length of a batch whose longest sequence has {@code longest} tokens. */
  public int paddedLength(int longest) {
    if (padToMultipleOf > 0 && longest % padToMultipleOf != 0) {
      return (longest / padToMultipleOf + 1) * padToMultipleOf;
    }
    return longest;
  }

  /** Builds {@link Padding}. */
  public static final class Builder {
    private final int padTokenId;
    private Side side = Side.RIGHT;
    private int padToMultipleOf;

    private Builder(int padTokenId) {
      this.padTokenId = padTokenId;
    }

    public Builder side(Side side) {
      this.side = side;
      return this;
    }

    public Builder padToMultipleOf(int multiple) {
      this.padToMultipleOf = multiple;
      return this;
    }

    public Padding build() {
      return new Padding(this);
    }
  }
}
