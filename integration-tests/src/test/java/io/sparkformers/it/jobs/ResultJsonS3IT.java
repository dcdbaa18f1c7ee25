package io.sparkformers.it.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.it.S3ProxyServer;
import io.sparkformers.jobs.ExitCodes;
import io.sparkformers.jobs.ResultFile;
import io.sparkformers.jobs.SparkformersCommand;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code --result-json s3a://...} against a real S3 server (s3proxy): written whole, replaced, nothing left over. */
class ResultJsonS3IT {
  @TempDir Path dir;

  @SuppressWarnings("unchecked")
  private static Map<String, Object> read(FileSystem fs, String uri) throws IOException {
    try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(uri))) {
      return new ObjectMapper().readValue(in, Map.class);
    }
  }

  @Test
  void aFailedTrainJobWritesItsResultToS3aAndASecondWriteReplacesIt() throws Exception {
    try (S3ProxyServer s3 = S3ProxyServer.start(dir.resolve("s3"))) {
      s3.createBucket("results");
      Map<String, String> hadoop = s3.hadoopConfiguration();
      StringBuilder yaml = new StringBuilder(String.join("\n",
          "model:",
          "  config: {model_type: mlp, input_size: 4, num_labels: 3}",
          "data:",
          "  train_file: " + dir.resolve("missing.csv"),
          "  hadoop:",
          ""));
      hadoop.forEach((k, v) -> yaml.append("    ").append(k).append(": \"").append(v).append("\"\n"));
      yaml.append("training_args:\n  output_dir: ").append(dir.resolve("out")).append('\n');
      Path job = Files.writeString(dir.resolve("job.yaml"), yaml);
      String uri = "s3a://results/runs/run-1.json";
      CommandLine cli = SparkformersCommand.commandLine();
      StringWriter err = new StringWriter();
      cli.setErr(new PrintWriter(err));
      assertEquals(ExitCodes.INPUT_MISSING, cli.execute("train", "--config", job.toString(), "--result-json", uri),
          err.toString());

      Configuration conf = new Configuration();
      hadoop.forEach(conf::set);
      try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://results/"), conf)) {
        Map<String, Object> json = read(fs, uri);
        assertEquals("failed", json.get("status"));
        assertEquals(3, json.get("exit_code"));
        assertEquals(job + ": key 'data.train_file': No file found at " + dir.resolve("missing.csv"),
            json.get("error"));

        new ResultFile("sparkformers train").put("output_dir", "s3a://results/out").write(uri, ExitCodes.OK, null,
            hadoop);
        json = read(fs, uri);
        assertEquals("succeeded", json.get("status"));
        assertEquals("s3a://results/out", json.get("output_dir"));
        List<String> names = new ArrayList<>();
        for (FileStatus s : fs.listStatus(new org.apache.hadoop.fs.Path("s3a://results/runs/"))) {
          names.add(s.getPath().getName());
        }
        assertEquals(List.of("run-1.json"), names);
      }
    }
  }
}
