package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README.md's "Use it from Java or Scala" program, exactly as printed there: compiled against the modules and
 * run in a JVM of its own on the repository's digits data; it must print the evaluation's accuracy.
 */
class ReadmeJavaExampleTest {
  @TempDir Path tmp;

  private static Path root() {
    Path root = Path.of(System.getProperty("sparkformers.root", ".."));
    return Files.isRegularFile(root.resolve("README.md")) ? root : Path.of("..");
  }

  static String program() throws Exception {
    String readme = Files.readString(root().resolve("README.md"), StandardCharsets.UTF_8);
    Matcher m = Pattern.compile("<!-- java-example:begin -->\\n```java\\n(.*?)```\\n<!-- java-example:end -->",
        Pattern.DOTALL).matcher(readme);
    assertTrue(m.find(), "README.md has no java-example block");
    return m.group(1);
  }

  @Test
  void theProgramIsShortAndCompletes() throws Exception {
    String program = program();
    List<String> lines = program.lines().toList();
    int firstBelowImports = lines.indexOf("public class Digits {");
    assertTrue(firstBelowImports > 0, "the example declares class Digits");
    assertTrue(lines.size() - firstBelowImports < 25, (lines.size() - firstBelowImports) + " lines below the imports");
    assertTrue(lines.stream().allMatch(l -> l.length() <= 120), "lines of at most 120 characters");

    Path src = Files.createDirectories(tmp.resolve("src")).resolve("Digits.java");
    Files.writeString(src, program);
    Path classes = Files.createDirectories(tmp.resolve("classes"));
    String classPath = System.getProperty("java.class.path");
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    int compiled = javac.run(null, null, null, "--release", "17", "-proc:none", "-cp", classPath, "-d",
        classes.toString(), src.toString());
    assertEquals(0, compiled, "README's program compiles");

    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // The test JVM's own flags: Spark's --add-opens, DJL offline, the log configuration.
    command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-") || a.startsWith("-D") || a.startsWith("-XX:")).toList());
    command.addAll(List.of("-cp", classes + File.pathSeparator + classPath, "Digits",
        root().resolve("data/digits/digits.csv.gz").toString(), tmp.resolve("out").toString()));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(tmp.resolve("run.log").toFile());
    pb.environment().put("SPARKFORMERS_DATASETS_CACHE", tmp.resolve("cache").toString());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    Process p = pb.start();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the program ends");
    String log = Files.readString(tmp.resolve("run.log"));
    assertEquals(0, p.exitValue(), log);
    Matcher accuracy = Pattern.compile("\\{.*eval_accuracy=([0-9.]+).*}").matcher(log);
    assertTrue(accuracy.find(), "prints the evaluation: " + log.substring(Math.max(0, log.length() - 2000)));
    double value = Double.parseDouble(accuracy.group(1));
    assertTrue(value > 0.8 && value <= 1.0, "accuracy " + value);
    assertTrue(Files.isRegularFile(tmp.resolve("out/log_history.jsonl")), "rank 0 wrote its log");
  }
}
