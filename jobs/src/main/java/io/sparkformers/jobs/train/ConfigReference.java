package io.sparkformers.jobs.train;

import io.sparkformers.config.ConfigDef;
import io.sparkformers.training.TrainingArguments;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The reference of every key a job file may hold, rendered from the keys' declarations ({@link
 * JobConfig#definitions()}): as text for {@code train --list-keys}, as Markdown for the README's section between
 * {@link #BEGIN} and {@link #END} (a test fails when that section differs from {@link #markdown()}).
 */
public final class ConfigReference {
  private ConfigReference() {}

  /** The marker line before the README's generated section. */
  public static final String BEGIN = "<!-- config-reference:begin -->";
  /** The marker line after it. */
  public static final String END = "<!-- config-reference:end -->";
  /** How to regenerate the README's section, for the drift test's message and the section's own comment. */
  public static final String HOW_TO_REGENERATE = "./sparkformers train --list-keys --write-readme README.md, or"
      + " mvn -o -pl jobs -am test -Dtest=ConfigReferenceTest -Dsurefire.failIfNoSpecifiedTests=false"
      + " -Dsparkformers.writeReadme=true";

  /** Every key as text: per section its keys' path, type and default, then their documentation. */
  public static String text() {
    StringBuilder out = new StringBuilder();
    for (ConfigDef def : JobConfig.definitions()) {
      out.append(title(def)).append('\n').append(def.toText(displayPrefix(def))).append('\n');
    }
    return out.toString();
  }

  /** The README's section, markers included. */
  public static String markdown() {
    StringBuilder out = new StringBuilder();
    out.append(BEGIN).append('\n');
    out.append("<!-- Generated from the keys' declarations; do not edit. Regenerate with: ").append(HOW_TO_REGENERATE)
        .append(" -->\n\n");
    for (ConfigDef def : JobConfig.definitions()) {
      out.append("### ").append(title(def)).append("\n\n").append(def.toMarkdown(displayPrefix(def)));
    }
    out.append(END);
    return out.toString();
  }

  /** {@code readme} with its section between the markers replaced by {@link #markdown()}. */
  public static String withSection(String readme) {
    int begin = readme.indexOf(BEGIN);
    int end = readme.indexOf(END);
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException("the README has no section between " + BEGIN + " and " + END);
    }
    return readme.substring(0, begin) + markdown() + readme.substring(end + END.length());
  }

  /** Rewrites the section of the README at {@code readme}. */
  public static void writeReadme(Path readme) throws IOException {
    String text = Files.readString(readme, StandardCharsets.UTF_8);
    Files.writeString(readme, withSection(text), StandardCharsets.UTF_8);
  }

  private static String title(ConfigDef def) {
    if (def == TrainingArguments.definition()) {
      return "training_args.* — TrainingArguments, snake_case as in transformers";
    }
    return switch (def.prefix()) {
      case "" -> "Top level of a job file";
      case "process_group" -> "process_group.* — the process group the ranks all-reduce through";
      default -> def.prefix() + ".*";
    };
  }

  /** training_args' keys are declared without a prefix: TrainingArguments knows no job file. */
  private static String displayPrefix(ConfigDef def) {
    return def == TrainingArguments.definition() ? "training_args." : "";
  }
}
