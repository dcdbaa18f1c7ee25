package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.Gpt2VocabFiles;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hugging Face's {@code AutoTokenizer.from_pretrained(folder)}: a local folder only, nothing downloads. */
public final class AutoTokenizer {
  private AutoTokenizer() {}

  /**
   * Loads {@code folder/tokenizer.json} or, when there is none, GPT-2's {@code vocab.json} + {@code merges.txt}
   * (converted to a byte-level BPE tokenizer as GPT2TokenizerFast does), and, when present,
   * {@code folder/tokenizer_config.json}.
   */
  public static Tokenizer fromPretrained(Path folder) {
    return new Tokenizer(folder);
  }

  /**
   * Loads one tokenizer.json file, whatever its name; a file named {@code tokenizer.json} is loaded with its
   * folder's {@code tokenizer_config.json} (as {@link #fromPretrained}), another with no config (a config next to
   * it may belong to another tokenizer).
   */
  public static Tokenizer fromFile(Path tokenizerJson) {
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new IllegalArgumentException(tokenizerJson + " is not a file");
    }
    Path folder = tokenizerJson.toAbsolutePath().getParent();
    Path config = tokenizerJson.getFileName().toString().equals("tokenizer.json")
        ? folder.resolve("tokenizer_config.json") : null;
    return new Tokenizer(folder, tokenizerJson, config);
  }

  /** True when {@code folder} holds a tokenizer {@link #fromPretrained} can load (by its file names). */
  public static boolean isPresentIn(Path folder) {
    return Files.isRegularFile(folder.resolve("tokenizer.json")) || Gpt2VocabFiles.presentIn(folder);
  }
}
