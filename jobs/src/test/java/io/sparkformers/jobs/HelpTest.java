package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** The help of every command: rendered without picocli warnings, defaults shown, nested help reachable. */
class HelpTest {

  private static List<CommandLine> all(CommandLine cli) {
    List<CommandLine> out = new ArrayList<>(List.of(cli));
    for (CommandLine sub : cli.getSubcommands().values()) {
      if (!sub.getCommandName().equals("help")) {
        out.addAll(all(sub));
      }
    }
    return out;
  }

  private static String[] run(String... args) {
    CommandLine cli = SparkformersCommand.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    return new String[] {Integer.toString(code), out.toString(), err.toString()};
  }

  @Test
  void everyCommandsHelpRendersWithoutPicocliWarnings() {
    // picocli reports a description it cannot format (an unescaped %) on System.err.
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    List<String> names = new ArrayList<>();
    try {
      for (CommandLine c : all(SparkformersCommand.commandLine())) {
        c.getUsageMessage();
        names.add(c.getCommandSpec().qualifiedName());
      }
    } finally {
      System.setErr(saved);
    }
    String warnings = captured.toString(StandardCharsets.UTF_8);
    assertEquals("", warnings);
    assertTrue(names.contains("sparkformers bench train"), names.toString());
    assertTrue(names.contains("sparkformers datasets convert"), names.toString());
  }

  @Test
  void benchTrainHelpShowsItsPercentages() {
    String[] r = run("bench", "train", "--help");
    assertEquals("0", r[0]);
    assertTrue(r[1].replaceAll("\\s+", " ").contains("about 25% slower, after 300 about 15%)"), r[1]);
  }

  @Test
  void everyOptionWithADefaultShowsIt() {
    List<String> missing = new ArrayList<>();
    for (CommandLine c : all(SparkformersCommand.commandLine())) {
      String help = c.getUsageMessage(CommandLine.Help.Ansi.OFF).replaceAll("\\s+", " ");
      for (OptionSpec o : c.getCommandSpec().options()) {
        if (o.defaultValue() == null || o.usageHelp() || o.versionHelp()) {
          continue;
        }
        String description = String.join(" ", o.description()).replaceAll("\\s+", " ");
        String shown = "Default: " + o.defaultValue();
        if (!help.contains(shown) && !(description.contains("default") && help.contains(o.defaultValue()))) {
          missing.add(c.getCommandSpec().qualifiedName() + " " + o.longestName() + " (" + o.defaultValue() + ")");
        }
      }
    }
    assertEquals(List.of(), missing);
    String evaluate = run("evaluate", "--help")[1].replaceAll("\\s+", " ");
    assertTrue(evaluate.contains("Default: bleu"), evaluate);
    assertTrue(evaluate.contains("Default: binary"), evaluate);
  }

  @Test
  void helpOfANestedCommandIsThatCommandsHelp() {
    String[] nested = run("help", "datasets", "convert");
    String[] direct = run("datasets", "convert", "--help");
    assertEquals("0", nested[0]);
    assertTrue(direct[1].startsWith("Usage: sparkformers datasets convert"), direct[1]);
    assertEquals(direct[1], nested[1]);
    assertEquals(run("train", "--help")[1], run("help", "train")[1]);
    String[] unknown = run("help", "datasets", "nope");
    assertEquals("2", unknown[0]);
    assertTrue(unknown[2].contains("Unknown subcommand 'nope'"), unknown[2]);
  }
}
