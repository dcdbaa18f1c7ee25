package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerFilesTest {
  @TempDir Path tmp;

  @Test
  void copiesTheTokenizerFilesAndNothingElse() throws Exception {
    Path from = Files.createDirectories(tmp.resolve("from"));
    Files.writeString(from.resolve("tokenizer.json"), "{}");
    Files.writeString(from.resolve("tokenizer_config.json"), "{\"chat_template\": \"x\"}");
    Files.writeString(from.resolve("config.json"), "{}");
    Path to = tmp.resolve("model");
    assertEquals(List.of("tokenizer.json", "tokenizer_config.json"), TokenizerFiles.copy(from, to));
    assertEquals("{\"chat_template\": \"x\"}", Files.readString(to.resolve("tokenizer_config.json")));
    assertTrue(!Files.exists(to.resolve("config.json")));
  }

  @Test
  void aFolderWithoutATokenizerIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TokenizerFiles.copy(tmp, tmp.resolve("out")));
    assertEquals(tmp + " holds no tokenizer (tokenizer.json, or vocab.json + merges.txt) to copy", e.getMessage());
  }
}
