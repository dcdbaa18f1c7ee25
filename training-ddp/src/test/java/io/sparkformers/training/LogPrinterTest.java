package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Log entries as JSON lines: without a bar (disable_tqdm) every entry, with the bar the evaluations. */
class LogPrinterTest {
  private static Map<String, Object> entry(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  @Test
  void everyEntryIsOneJsonLine() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    LogPrinter printer = new LogPrinter(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    TrainerState state = new TrainerState();
    printer.onLog(null, state, new TrainerControl(), entry("loss", 0.5, "learning_rate", 0.001, "epoch", 1.0));
    printer.onLog(null, state, new TrainerControl(), entry("eval_loss", 0.25, "eval_accuracy", 0.9));
    assertEquals("{\"loss\":0.5,\"learning_rate\":0.001,\"epoch\":1.0}\n{\"eval_loss\":0.25,\"eval_accuracy\":0.9}\n",
        bytes.toString(StandardCharsets.UTF_8));
  }

  @Test
  void otherRanksPrintNothing() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TrainerState state = new TrainerState();
    state.worldProcessZero = false;
    new LogPrinter(new PrintStream(bytes, true, StandardCharsets.UTF_8)).onLog(null, state, new TrainerControl(),
        entry("loss", 0.5));
    assertEquals("", bytes.toString(StandardCharsets.UTF_8));
  }

  @Test
  void theProgressBarPrintsEvaluationsAsJsonNotAsAJavaMap() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ProgressBar bar = new ProgressBar(new PrintStream(bytes, true, StandardCharsets.UTF_8), 32);
    TrainerState state = new TrainerState();
    bar.onLog(null, state, new TrainerControl(), entry("loss", 0.5));
    bar.onLog(null, state, new TrainerControl(), entry("eval_loss", 0.25, "epoch", 2.0));
    assertEquals("\n{\"eval_loss\":0.25,\"epoch\":2.0}\n", bytes.toString(StandardCharsets.UTF_8));
  }
}
