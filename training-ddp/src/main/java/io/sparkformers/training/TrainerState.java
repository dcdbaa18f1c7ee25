package io.sparkformers.training;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where training stands (transformers' {@code TrainerState}), saved as {@code trainer_state.json} in every
 * checkpoint with transformers' keys. Mutable: the Trainer updates it as it goes; callbacks read it.
 */
public final class TrainerState {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  double epoch;
  long globalStep;
  long maxSteps;
  long loggingSteps;
  long evalSteps;
  long saveSteps;
  int trainBatchSize;
  double numTrainEpochs;
  final List<Map<String, Object>> logHistory = new ArrayList<>();
  Double bestMetric;
  Long bestGlobalStep;
  String bestModelCheckpoint;
  boolean worldProcessZero = true;
  /** The rank-averaged mean loss of the last optimizer step, unrounded (logs round it to 4 digits). */
  double lastStepLoss = Double.NaN;

  public double epoch() { return epoch; }
  public long globalStep() { return globalStep; }
  public long maxSteps() { return maxSteps; }
  public long loggingSteps() { return loggingSteps; }
  public long evalSteps() { return evalSteps; }
  public long saveSteps() { return saveSteps; }
  public int trainBatchSize() { return trainBatchSize; }
  public List<Map<String, Object>> logHistory() { return Collections.unmodifiableList(logHistory); }
  public Double bestMetric() { return bestMetric; }
  public Long bestGlobalStep() { return bestGlobalStep; }
  public String bestModelCheckpoint() { return bestModelCheckpoint; }
  public boolean isWorldProcessZero() { return worldProcessZero; }
  /**
   * The loss of the last optimizer step averaged over ranks and accumulation steps, without the 4-digit
   * rounding of the logs; computed on steps that log (NaN before the first).
   */
  public double lastStepLoss() { return lastStepLoss; }

  /** {@code trainer_state.json} with transformers' keys. */
  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("best_global_step", bestGlobalStep);
    m.put("best_metric", bestMetric);
    m.put("best_model_checkpoint", bestModelCheckpoint);
    m.put("epoch", epoch);
    m.put("eval_steps", evalSteps);
    m.put("global_step", globalStep);
    m.put("is_hyper_param_search", false);
    m.put("is_local_process_zero", worldProcessZero);
    m.put("is_world_process_zero", worldProcessZero);
    m.put("log_history", logHistory);
    m.put("logging_steps", loggingSteps);
    m.put("max_steps", maxSteps);
    m.put("num_input_tokens_seen", 0);
    m.put("num_train_epochs", numTrainEpochs);
    m.put("save_steps", saveSteps);
    m.put("stateful_callbacks", Map.of());
    m.put("total_flos", 0.0);
    m.put("train_batch_size", trainBatchSize);
    m.put("trial_name", null);
    m.put("trial_params", null);
    try {
      return JSON.writeValueAsString(m);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reads {@code trainer_state.json}; {@code where} names the file in errors. */
  public static TrainerState fromJson(String json, String where) {
    Map<String, Object> m;
    try {
      m = JSON.readValue(json, new TypeReference<Map<String, Object>>() {});
    } catch (IOException e) {
      throw new IllegalArgumentException(where + ": not valid JSON: " + e.getMessage(), e);
    }
    TrainerState s = new TrainerState();
    s.globalStep = number(m, "global_step", where).longValue();
    s.epoch = number(m, "epoch", where).doubleValue();
    s.maxSteps = optional(m, "max_steps", 0).longValue();
    s.loggingSteps = optional(m, "logging_steps", 0).longValue();
    s.evalSteps = optional(m, "eval_steps", 0).longValue();
    s.saveSteps = optional(m, "save_steps", 0).longValue();
    s.trainBatchSize = optional(m, "train_batch_size", 0).intValue();
    s.numTrainEpochs = optional(m, "num_train_epochs", 0).doubleValue();
    Object best = m.get("best_metric");
    s.bestMetric = best == null ? null : ((Number) best).doubleValue();
    Object bestStep = m.get("best_global_step");
    s.bestGlobalStep = bestStep == null ? null : ((Number) bestStep).longValue();
    s.bestModelCheckpoint = (String) m.get("best_model_checkpoint");
    Object history = m.get("log_history");
    if (history instanceof List<?> list) {
      for (Object entry : list) {
        @SuppressWarnings("unchecked")
        Map<String, Object> e = (Map<String, Object>) entry;
        s.logHistory.add(new LinkedHashMap<>(e));
      }
    }
    return s;
  }

  private static Number number(Map<String, Object> m, String key, String where) {
    Object v = m.get(key);
    if (!(v instanceof Number n)) {
      throw new IllegalArgumentException(where + ": key '" + key + "': expected a number, got " + v);
    }
    return n;
  }

  private static Number optional(Map<String, Object> m, String key, Number fallback) {
    Object v = m.get(key);
    return v instanceof Number n ? n : fallback;
  }
}
