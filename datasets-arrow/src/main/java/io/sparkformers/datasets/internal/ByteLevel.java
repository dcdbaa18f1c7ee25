package io.sparkformers.datasets.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's byte-level pre-tokenization, as in Hugging Face tokenizers' {@code ByteLevel} pre-tokenizer: the
 * text is split by GPT-2's regular expression and each piece's UTF-8 bytes are written with the printable
 * characters GPT-2 assigns to bytes (space becomes 'Ġ').
 */
public final class ByteLevel {
  private static final Pattern GPT2_SPLIT = Pattern.compile(
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
  private static final char[] BYTE_TO_CHAR = new char[256];

  static {
    int n = 0;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      BYTE_TO_CHAR[b] = printable ? (char) b : (char) (256 + n++);
    }
  }

  private ByteLevel() {}

  /** The 256 characters that stand for bytes, in byte order. */
  public static List<String> alphabet() {
    List<String> out = new ArrayList<>();
    for (char c : BYTE_TO_CHAR) {
      out.add(String.valueOf(c));
    }
    return out;
  }

  /** The pieces of {@code text}, each in byte-level characters. */
  public static List<String> preTokenize(String text) {
    List<String> out = new ArrayList<>();
    Matcher m = GPT2_SPLIT.matcher(text);
    while (m.find()) {
      byte[] bytes = m.group().getBytes(StandardCharsets.UTF_8);
      StringBuilder s = new StringBuilder(bytes.length);
      for (byte b : bytes) {
        s.append(BYTE_TO_CHAR[b & 0xff]);
      }
      out.add(s.toString());
    }
    return out;
  }
}
