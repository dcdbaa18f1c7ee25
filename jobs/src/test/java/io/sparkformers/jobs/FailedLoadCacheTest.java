package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A load that fails on a bad row, as Spark tasks or in the driver, leaves nothing in the datasets cache. */
class FailedLoadCacheTest {
  @TempDir Path tmp;

  private static List<String> entries(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private Path badData() throws IOException {
    Path data = Files.createDirectories(tmp.resolve("data"));
    StringBuilder good = new StringBuilder("sepal_length,sepal_width,petal_length,petal_width,species\n");
    for (int i = 0; i < 200; i++) {
      good.append("1,2,3,4,").append(i % 3).append('\n');
    }
    Files.writeString(data.resolve("a.csv"), good);
    Files.writeString(data.resolve("b.csv"), "sepal_length,sepal_width,petal_length,petal_width,species\n"
        + "1,2,3,4,0\n1,2,3,4,0,9\n");
    return data;
  }

  private int train(Path data, Path cache, boolean spark, StringWriter err) {
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setErr(new PrintWriter(err));
    return cli.execute("train", "--config", Path.of("..", "conf", "tabular-classification.yaml").toString(),
        "--set", "data.train_file=" + data, "--set", "data.format=csv", "--set", "data.cache_dir=" + cache,
        "--set", "data.use_spark=" + spark, "--set", "training_args.output_dir=" + tmp.resolve("out-" + spark));
  }

  @Test
  void aLoadThatFailsOnSparkOrInTheDriverLeavesNoCacheEntry() throws IOException {
    Path data = badData();
    for (boolean spark : new boolean[] {true, false}) {
      Path cache = tmp.resolve("cache-" + spark);
      StringWriter err = new StringWriter();
      assertEquals(ExitCodes.FAILED, train(data, cache, spark, err));
      assertTrue(err.toString().contains("b.csv") && err.toString().contains("line 3"), err.toString());
      assertEquals(List.of(), entries(cache), "spark " + spark);
    }
  }
}
