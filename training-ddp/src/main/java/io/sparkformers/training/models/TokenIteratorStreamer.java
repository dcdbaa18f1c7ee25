package io.sparkformers.training.models;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link TokenStreamer} to iterate over from another thread while generation runs, like transformers'
 * TextIteratorStreamer: pass it to {@code generate} on one thread and iterate on another.
 */
public final class TokenIteratorStreamer implements TokenStreamer, Iterator<TokenIteratorStreamer.Token> {

  /** One generated token of prompt {@code row}. */
  public record Token(int row, int tokenId) {}

  private static final Token END = new Token(-1, -1);
  private final BlockingQueue<Token> queue = new LinkedBlockingQueue<>();
  private final long timeoutMillis;
  private Token next;

  /** Waits for each token without a limit. */
  public TokenIteratorStreamer() {
    this(0);
  }

  /** Waits at most {@code timeoutMillis} for each token (0 = forever), then fails. */
  public TokenIteratorStreamer(long timeoutMillis) {
    this.timeoutMillis = timeoutMillis;
  }

  @Override
  public void put(int row, int tokenId) {
    queue.add(new Token(row, tokenId));
  }

  @Override
  public void end() {
    queue.add(END);
  }

  @Override
  public boolean hasNext() {
    if (next == null) {
      try {
        next = timeoutMillis > 0 ? queue.poll(timeoutMillis, TimeUnit.MILLISECONDS) : queue.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the next token", e);
      }
      if (next == null) {
        throw new IllegalStateException("no token within " + timeoutMillis + " ms");
      }
    }
    return next != END;
  }

  @Override
  public Token next() {
    if (!hasNext()) {
      throw new NoSuchElementException("generation has ended");
    }
    Token t = next;
    next = null;
    return t;
  }
}
