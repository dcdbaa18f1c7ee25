package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TimingCallbackTest {

  @Test
  void aStepIsItsForwardBackwardPlusItsOptimizerPart() throws Exception {
    TimingCallback timing = new TimingCallback();
    TrainingArguments args = TrainingArguments.builder("out").build();
    TrainerState state = new TrainerState();
    TrainerControl control = new TrainerControl();
    for (int step = 0; step < 2; step++) {
      timing.onStepBegin(args, state, control);
      Thread.sleep(3);
      timing.onPreOptimizerStep(args, state, control);
      Thread.sleep(1);
      timing.onOptimizerStep(args, state, control);
    }
    Map<String, Double> s = timing.seconds();
    assertEquals(s.get("step"), s.get("forward_backward") + s.get("optimizer"), 1e-12);
    assertTrue(s.get("forward_backward") >= 0.006, s.toString());
    assertTrue(s.get("optimizer") >= 0.002, s.toString());
    assertEquals((long) Math.round(s.get("step") * 1e9), timing.stepNanos(), 1.0);
  }
}
