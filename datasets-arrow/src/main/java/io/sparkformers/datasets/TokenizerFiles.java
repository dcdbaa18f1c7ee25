package io.sparkformers.datasets;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The files a Hugging Face tokenizer is saved as, so that a model folder can carry its tokenizer: what
 * {@code save_pretrained} of a fast tokenizer writes ({@code tokenizer.json}, {@code tokenizer_config.json},
 * {@code special_tokens_map.json}, {@code added_tokens.json}, a chat template file) and the vocabulary files
 * of slow ones (GPT-2's {@code vocab.json} + {@code merges.txt}, BERT's {@code vocab.txt}, SentencePiece's
 * {@code tokenizer.model}).
 */
public final class TokenizerFiles {
  /** The file names, in the order they are copied. */
  public static final List<String> NAMES = List.of("tokenizer.json", "tokenizer_config.json",
      "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json", "vocab.json",
      "merges.txt", "vocab.txt", "tokenizer.model");

  private TokenizerFiles() {}

  /**
   * Copies the tokenizer files {@code from} holds into {@code to} (created when missing), replacing files of
   * the same name; returns the names copied.
   *
   * @throws IllegalArgumentException when {@code from} holds no tokenizer {@link AutoTokenizer} can load
   */
  public static List<String> copy(Path from, Path to) throws IOException {
    if (!AutoTokenizer.isPresentIn(from)) {
      throw new IllegalArgumentException(from + " holds no tokenizer (tokenizer.json, or vocab.json +"
          + " merges.txt) to copy");
    }
    Files.createDirectories(to);
    List<String> copied = new ArrayList<>();
    for (String name : NAMES) {
      Path source = from.resolve(name);
      if (Files.isRegularFile(source)) {
        Files.copy(source, to.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        copied.add(name);
      }
    }
    return copied;
  }
}
