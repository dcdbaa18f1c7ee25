package io.sparkformers.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.training.checkpoint.CheckpointStore;
import io.sparkformers.training.internal.Views;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.SafeTensorsFile;
import io.sparkformers.training.models.SafeTensorsWriter;
import io.sparkformers.training.optim.GradScaler;
import io.sparkformers.training.optim.Optimizer;
import io.sparkformers.training.optim.Param;
import io.sparkformers.training.schedule.LrScheduler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * The Trainer's checkpoints in transformers' layout: {@code checkpoint-<step>/} with the model, the optimizer,
 * scheduler, scaler and RNG state, {@code training_args.json} and {@code trainer_state.json}; where a run resumes
 * from (resume_from_checkpoint, or the newest complete checkpoint when Spark retries the stage), and restoring
 * all of it so that the resumed run continues bit-identically.
 */
final class TrainingCheckpoints {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final Logger LOG = Logger.getLogger(Trainer.class.getName());
  /** Each rank's {@link TrainingData#stateDict()}: {@code data_state_<rank>.json}. */
  private static final Pattern DATA_STATE = Pattern.compile("data_state_(\\d+)\\.json");
  /**
   * What the final metrics of a resumed run need from the attempts before it. A file of its own: transformers
   * builds its TrainerState from every key of trainer_state.json and fails on keys it does not know.
   */
  static final String RUN_TOTALS = "train_totals.json";

  /**
   * The rank-averaged sum of the losses of every step up to the checkpoint, and the seconds spent training
   * them (each step counted once), so that a resumed run's train_loss and throughput are the whole run's.
   */
  record RunTotals(double lossSum, double runtimeSeconds) {}

  private final PreTrainedModel model;
  private final TrainingArguments args;
  private final TrainerState state;
  private final CheckpointStore store;
  private final ProcessGroup group;
  private final List<Param> params;

  TrainingCheckpoints(PreTrainedModel model, TrainingArguments args, TrainerState state, CheckpointStore store,
      ProcessGroup group, List<Param> params) {
    this.model = model;
    this.args = args;
    this.state = state;
    this.store = store;
    this.group = group;
    this.params = params;
  }

  private int rank() {
    return group == null ? 0 : group.rank();
  }

  private int worldSize() {
    return group == null ? 1 : group.worldSize();
  }

  static String dataStateFile(int rank) {
    return "data_state_" + rank + ".json";
  }

  /**
   * Rank 0 writes checkpoint-{global step} (and rotates old ones), with every rank's data state gathered to it
   * (so the states are part of the one atomic, checksummed checkpoint); every rank waits until it is complete.
   */
  void save(Optimizer optimizer, LrScheduler scheduler, GradScaler scaler, RunTotals totals, TrainingData data) {
    byte[][] dataStates = gatherDataStates(data);
    long step = state.globalStep;
    if (state.bestGlobalStep != null && state.bestGlobalStep == step) {
      state.bestModelCheckpoint = store.location(step);
    }
    if (rank() == 0) {
      try {
        store.save(step, folder -> {
          write(folder, optimizer, scheduler, scaler, totals);
          for (int r = 0; dataStates != null && r < dataStates.length; r++) {
            Files.write(folder.resolve(dataStateFile(r)), dataStates[r]);
          }
        });
        if (args.saveTotalLimit() != null && args.saveTotalLimit() > 0) {
          store.rotate(args.saveTotalLimit(), state.bestModelCheckpoint);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("could not save checkpoint-" + step + " to " + args.outputDir(), e);
      }
    }
    if (group != null) {
      group.barrier();
    }
  }

  /** Every rank's data state as the JSON of its file, on every rank; null when the data records none. */
  private byte[][] gatherDataStates(TrainingData data) {
    Map<String, Object> mine = data == null ? null : data.stateDict();
    byte[] json = new byte[0];
    if (mine != null) {
      Map<String, Object> file = new LinkedHashMap<>();
      file.put("rank", rank());
      file.put("world_size", worldSize());
      file.put("global_step", state.globalStep);
      file.put("state", mine);
      try {
        json = JSON.writeValueAsBytes(file);
      } catch (IOException e) {
        throw new UncheckedIOException("the train data's state is not JSON: " + e.getMessage(), e);
      }
    }
    int n = worldSize();
    long[] lengths = {json.length};
    long[] words = new long[(json.length + 7) / 8];
    java.nio.ByteBuffer.wrap(java.util.Arrays.copyOf(json, words.length * 8)).asLongBuffer().get(words);
    if (n > 1) {
      io.sparkformers.accelerate.Accelerator acc = io.sparkformers.accelerate.Accelerator.of(group,
          ai.djl.Device.cpu());
      lengths = acc.gather(lengths);
      if (java.util.Arrays.stream(lengths).allMatch(l -> l == 0)) {
        return null; // data addressed by row: nothing more to send
      }
      words = acc.gather(words);
    }
    byte[][] out = new byte[n][];
    int at = 0;
    boolean any = false;
    for (int r = 0; r < n; r++) {
      int len = (int) lengths[r];
      int count = (len + 7) / 8;
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(count * 8);
      b.asLongBuffer().put(words, at, count);
      at += count;
      out[r] = java.util.Arrays.copyOf(b.array(), len);
      any |= len > 0;
    }
    return any ? out : null;
  }

  /**
   * Hands this rank's data state of {@code folder} to the data. A checkpoint without data states (written
   * before they were recorded) leaves the data to reach its position from the rows asked for; one written by
   * another number of ranks is refused, since each state holds only its own rank's position in its part.
   */
  void restoreDataState(Path folder, TrainingData data) {
    int saved = 0;
    try (var files = Files.list(folder)) {
      saved = (int) files.filter(f -> DATA_STATE.matcher(f.getFileName().toString()).matches()).count();
    } catch (IOException e) {
      throw new UncheckedIOException("could not list " + folder, e);
    }
    if (saved == 0) {
      if (data.stateDict() != null) {
        LOG.info("rank " + rank() + ": " + folder + " holds no data state (data_state_<rank>.json; it was written"
            + " before data states were recorded): the data reaches step " + state.globalStep
            + " by reading and skipping the rows trained on before");
      }
      return;
    }
    if (saved != worldSize()) {
      throw new IllegalArgumentException("resume_from_checkpoint " + folder + " was written by " + saved
          + " ranks (" + saved + " data_state_<rank>.json files), this run has " + worldSize() + ": each file holds"
          + " one rank's position in its part of a stream split by node, which another number of ranks cannot"
          + " continue from; resume with world_size " + saved + " or start a new run");
    }
    Path file = folder.resolve(dataStateFile(rank()));
    Map<?, ?> content;
    try {
      content = JSON.readValue(file.toFile(), Map.class);
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": not a JSON object: " + e.getMessage(), e);
    }
    if (!Integer.valueOf(rank()).equals(content.get("rank"))
        || !Integer.valueOf(worldSize()).equals(content.get("world_size"))
        || !(content.get("state") instanceof Map<?, ?> saved0)) {
      throw new IllegalArgumentException(file + ": expected {\"rank\": " + rank() + ", \"world_size\": "
          + worldSize() + ", \"state\": {...}}, got keys rank=" + content.get("rank") + ", world_size="
          + content.get("world_size") + ", state " + (content.get("state") == null ? "missing" : "not an object"));
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> st = (Map<String, Object>) saved0;
    data.loadStateDict(st, folder.toString());
  }

  private void write(Path folder, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler,
      RunTotals totals) throws IOException {
    model.savePretrained(folder);
    SafeTensorsWriter.write(folder.resolve("optimizer.safetensors"), optimizer.state(),
        Map.of("optim", args.optim().value()));
    Map<String, Object> sched = new LinkedHashMap<>();
    sched.put("lr_scheduler_type", scheduler.type());
    sched.put("base_lrs", List.of(scheduler.baseLr()));
    sched.put("last_epoch", scheduler.lastEpoch());
    sched.put("_last_lr", List.of(scheduler.lr()));
    JSON.writeValue(folder.resolve("scheduler.json").toFile(), sched);
    if (scaler != null) {
      JSON.writeValue(folder.resolve("scaler.json").toFile(),
          Map.of("scale", scaler.scale(), "_growth_tracker", scaler.growthTracker()));
    }
    for (int r = 0; r < worldSize(); r++) {
      Map<String, Object> rng = new LinkedHashMap<>();
      rng.put("rank", r);
      rng.put("seed", args.seed());
      rng.put("data_seed", args.dataSeed());
      rng.put("global_step", state.globalStep);
      rng.put("epoch", state.epoch);
      JSON.writeValue(folder.resolve(worldSize() == 1 ? "rng_state.json" : "rng_state_" + r + ".json").toFile(),
          rng);
    }
    JSON.writeValue(folder.resolve("training_args.json").toFile(), args.toMap());
    Map<String, Object> sums = new LinkedHashMap<>();
    sums.put("global_step", state.globalStep);
    sums.put("loss_sum", totals.lossSum());
    sums.put("train_runtime", totals.runtimeSeconds());
    JSON.writeValue(folder.resolve(RUN_TOTALS).toFile(), sums);
    Files.writeString(folder.resolve("trainer_state.json"), state.toJson(), StandardCharsets.UTF_8);
  }

  /** The checkpoint this run resumes from, if any. */
  Optional<Path> resumeFrom() {
    String r = args.resumeFromCheckpoint();
    try {
      if (r == null || r.equalsIgnoreCase("false")) {
        // A retried Spark stage resumes from the newest complete checkpoint by itself.
        if (group != null && retriedAttempt()) {
          return store.newestComplete();
        }
        return Optional.empty();
      }
      if (r.equalsIgnoreCase("true") || r.equalsIgnoreCase("last")) {
        Optional<Path> p = store.newestComplete();
        if (p.isEmpty()) {
          throw new IllegalArgumentException("resume_from_checkpoint=" + r + ": no valid checkpoint found in "
              + args.outputDir());
        }
        return p;
      }
      Path p = Path.of(r);
      String problem = CheckpointStore.verify(p);
      if (problem != null) {
        throw new IllegalArgumentException("resume_from_checkpoint=" + r + ": " + problem);
      }
      return Optional.of(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** True inside a Spark task that is not the stage's first attempt. */
  private static boolean retriedAttempt() {
    try {
      org.apache.spark.TaskContext tc = org.apache.spark.TaskContext.get();
      return tc != null && (tc.stageAttemptNumber() > 0 || tc.attemptNumber() > 0);
    } catch (NoClassDefFoundError e) {
      return false;
    }
  }

  /**
   * Loads the weights, optimizer, scheduler, scaler and trainer state of {@code folder}; returns its run totals,
   * or null for a checkpoint written without them (by transformers, or before they were recorded).
   */
  RunTotals restore(Path folder, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler) {
    try {
      loadWeights(folder);
      try (NDManager m = model.manager().newSubManager()) {
        Map<String, NDArray> opt = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(folder.resolve("optimizer.safetensors"))) {
          for (String name : f.names()) {
            opt.put(name, f.load(name, m));
          }
        }
        optimizer.loadState(opt);
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> sched = JSON.readValue(folder.resolve("scheduler.json").toFile(), Map.class);
      scheduler.setLastEpoch(((Number) sched.get("last_epoch")).longValue());
      if (scaler != null && Files.exists(folder.resolve("scaler.json"))) {
        @SuppressWarnings("unchecked")
        Map<String, Object> s = JSON.readValue(folder.resolve("scaler.json").toFile(), Map.class);
        scaler.load(((Number) s.get("scale")).floatValue(), ((Number) s.get("_growth_tracker")).intValue());
      }
      TrainerState saved = TrainerState.fromJson(
          Files.readString(folder.resolve("trainer_state.json")), folder.resolve("trainer_state.json").toString());
      state.globalStep = saved.globalStep;
      state.epoch = saved.epoch;
      state.bestMetric = saved.bestMetric;
      state.bestGlobalStep = saved.bestGlobalStep;
      state.bestModelCheckpoint = saved.bestModelCheckpoint;
      state.logHistory.clear();
      state.logHistory.addAll(saved.logHistory);
      Path totals = folder.resolve(RUN_TOTALS);
      if (!Files.exists(totals)) {
        return null;
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> t = JSON.readValue(totals.toFile(), Map.class);
      if (!(t.get("loss_sum") instanceof Number loss) || !(t.get("train_runtime") instanceof Number runtime)) {
        throw new IllegalArgumentException(totals + ": expected numbers under \"loss_sum\" and \"train_runtime\","
            + " found " + t);
      }
      return new RunTotals(loss.doubleValue(), runtime.doubleValue());
    } catch (IOException e) {
      throw new UncheckedIOException("could not resume from " + folder, e);
    }
  }

  /**
   * Overwrites the trained parameters with {@code model.safetensors} of a checkpoint, in place (frozen ones
   * never change, so the checkpoint holds what they already are). A LoRA run's checkpoint holds the adapter
   * instead ({@code adapter_model.safetensors}, keyed by the same names as the trained parameters).
   */
  void loadWeights(Path folder) throws IOException {
    Path file = folder.resolve("model.safetensors");
    if (!Files.exists(file) && Files.exists(folder.resolve("adapter_model.safetensors"))) {
      file = folder.resolve("adapter_model.safetensors");
    }
    try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
      for (Param p : params) {
        Views.copyInto(f, p.name(), p.array());
      }
    }
  }

  /** Rank 0's local copy of the best checkpoint (fetched first when the output is remote). */
  Path bestCheckpointFolder() throws IOException {
    String best = state.bestModelCheckpoint;
    return store.isLocal() ? Path.of(best)
        : store.fetchVerified(Long.parseLong(best.substring(best.lastIndexOf('-') + 1))).orElseThrow();
  }
}
