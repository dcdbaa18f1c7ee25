package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.config.ConfigKey;
import io.sparkformers.training.TrainingArguments;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ConfigReferenceTest {

  /** The repository's README: SPARKFORMERS_ROOT (the build sets it) or the module's parent folder. */
  static Path readme() {
    String root = System.getenv("SPARKFORMERS_ROOT");
    return (root != null ? Path.of(root) : Path.of("..")).resolve("README.md");
  }

  @Test
  void theReadmesReferenceIsGeneratedFromTheDeclarations() throws IOException {
    Path readme = readme();
    if (Boolean.getBoolean("sparkformers.writeReadme")) {
      ConfigReference.writeReadme(readme);
    }
    String text = Files.readString(readme, StandardCharsets.UTF_8);
    assertEquals(ConfigReference.withSection(text), text, readme + "'s config reference differs from the keys'"
        + " declarations; regenerate it: " + ConfigReference.HOW_TO_REGENERATE);
  }

  @Test
  void everyKeyIsInBothRenderingsWithTypeDefaultAndDoc() {
    String text = ConfigReference.text();
    String md = ConfigReference.markdown();
    for (var def : JobConfig.definitions()) {
      String prefix = def == TrainingArguments.definition() ? "training_args." : "";
      for (ConfigKey<?> k : def.keys()) {
        String line = String.format("  %-40s %-16s default: %s%n      %s%n", prefix + k.path(), k.type().name(),
            k.defaultText(), k.doc());
        assertTrue(text.contains(line), line);
        assertTrue(md.contains("| `" + prefix + k.path() + "` | "), k.path());
      }
    }
    assertTrue(text.contains(String.format("  %-40s %-16s default: 1800%n", "training_args.ddp_timeout", "int")),
        text);
    assertTrue(text.contains(String.format("  %-40s %s default: linear%n", "training_args.lr_scheduler_type",
        "enum: linear, cosine, constant, constant_with_warmup")), text);
    assertTrue(text.contains(String.format("  %-40s %-16s default: 1073741824%n",
        "process_group.shared_memory_arena_bytes", "long")), text);
    assertTrue(text.contains("  [Output and seeds]\n  training_args.output_dir"), text);
    assertTrue(text.contains("  data.max_seq_length"), text);
    assertTrue(md.startsWith(ConfigReference.BEGIN + "\n") && md.endsWith(ConfigReference.END), md);
    assertTrue(md.contains("### training_args.* — TrainingArguments, snake_case as in transformers\n\n"
        + "**Output and seeds**\n\n| key | type | default | description |\n"), md);
  }

  @Test
  void aReadmeWithoutMarkersIsAnError() {
    assertEquals("the README has no section between " + ConfigReference.BEGIN + " and " + ConfigReference.END,
        assertThrows(IllegalArgumentException.class, () -> ConfigReference.withSection("# x\n")).getMessage());
  }

  @Test
  void onlyTheSectionBetweenTheMarkersIsReplaced() {
    String readme = "# title\n\n" + ConfigReference.BEGIN + "\nstale\n" + ConfigReference.END + "\n\n## after\n";
    assertEquals("# title\n\n" + ConfigReference.markdown() + "\n\n## after\n", ConfigReference.withSection(readme));
  }

  @Test
  void theDefinitionsAreTheJobsSections() {
    assertEquals(ProcessGroupOptions.definition(), JobConfig.definitions().get(3));
    assertEquals(TrainingArguments.definition(), JobConfig.definitions().get(4));
  }
}
