package io.sparkformers.datasets;

import java.nio.file.Path;

/** Hugging Face's {@code AutoTokenizer.from_pretrained(folder)}: a local folder only, nothing downloads. */
public final class AutoTokenizer {
  private AutoTokenizer() {}

  /** Loads {@code folder/tokenizer.json} and, when present, {@code folder/tokenizer_config.json}. */
  public static Tokenizer fromPretrained(Path folder) {
    return new Tokenizer(folder);
  }
}
