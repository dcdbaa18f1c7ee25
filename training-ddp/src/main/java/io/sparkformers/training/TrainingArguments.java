package io.sparkformers.training;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.logging.Logger;

/**
 * The settings of one training run, with Hugging Face's {@code TrainingArguments} names (snake_case in config
 * files, through {@link #fromMap}) and defaults. Immutable; build it with {@link #builder(String)}.
 * {@link Builder#build()} makes the checks transformers makes in {@code __post_init__}, so that a bad value or
 * combination fails before training starts.
 */
public final class TrainingArguments {

  private static final Logger LOG = Logger.getLogger(TrainingArguments.class.getName());

  /** transformers' {@code SchedulerType} values this Trainer implements. */
  public static final List<String> SCHEDULER_TYPES =
      List.of("linear", "cosine", "constant", "constant_with_warmup");
  /** transformers' {@code IntervalStrategy} values (save_strategy also takes {@code best}). */
  public static final List<String> INTERVAL_STRATEGIES = List.of("no", "steps", "epoch");
  /** transformers' {@code OptimizerNames} values this Trainer implements. */
  public static final List<String> OPTIMIZERS = List.of("adamw_torch", "sgd");

  private final String outputDir;
  private final long seed;
  private final Long dataSeed;
  private final int perDeviceTrainBatchSize;
  private final int perDeviceEvalBatchSize;
  private final int gradientAccumulationSteps;
  private final double numTrainEpochs;
  private final long maxSteps;
  private final double learningRate;
  private final double weightDecay;
  private final double adamBeta1;
  private final double adamBeta2;
  private final double adamEpsilon;
  private final String optim;
  private final String optimArgs;
  private final String lrSchedulerType;
  private final double warmupRatio;
  private final long warmupSteps;
  private final double maxGradNorm;
  private final boolean fp16;
  private final boolean bf16;
  private final String loggingStrategy;
  private final double loggingSteps;
  private final boolean loggingFirstStep;
  private final String evalStrategy;
  private final Double evalSteps;
  private final String saveStrategy;
  private final double saveSteps;
  private final Integer saveTotalLimit;
  private final boolean loadBestModelAtEnd;
  private final String metricForBestModel;
  private final Boolean greaterIsBetter;
  private final String resumeFromCheckpoint;
  private final boolean dataloaderDropLast;
  private final int ddpBucketCapMb;
  private final boolean disableTqdm;

  private TrainingArguments(Builder b) {
    outputDir = b.outputDir;
    seed = b.seed;
    dataSeed = b.dataSeed;
    perDeviceTrainBatchSize = b.perDeviceTrainBatchSize;
    perDeviceEvalBatchSize = b.perDeviceEvalBatchSize;
    gradientAccumulationSteps = b.gradientAccumulationSteps;
    numTrainEpochs = b.numTrainEpochs;
    maxSteps = b.maxSteps;
    learningRate = b.learningRate;
    weightDecay = b.weightDecay;
    adamBeta1 = b.adamBeta1;
    adamBeta2 = b.adamBeta2;
    adamEpsilon = b.adamEpsilon;
    optim = b.optim;
    optimArgs = b.optimArgs;
    lrSchedulerType = b.lrSchedulerType;
    warmupRatio = b.warmupRatio;
    warmupSteps = b.warmupSteps;
    maxGradNorm = b.maxGradNorm;
    fp16 = b.fp16;
    bf16 = b.bf16;
    loggingStrategy = b.loggingStrategy;
    loggingSteps = b.loggingSteps;
    loggingFirstStep = b.loggingFirstStep;
    evalStrategy = b.evalStrategy;
    evalSteps = b.evalSteps;
    saveStrategy = b.saveStrategy;
    saveSteps = b.saveSteps;
    saveTotalLimit = b.saveTotalLimit;
    loadBestModelAtEnd = b.loadBestModelAtEnd;
    metricForBestModel = b.metricForBestModel;
    greaterIsBetter = b.greaterIsBetter;
    resumeFromCheckpoint = b.resumeFromCheckpoint;
    dataloaderDropLast = b.dataloaderDropLast;
    ddpBucketCapMb = b.ddpBucketCapMb;
    disableTqdm = b.disableTqdm;
  }

  public static Builder builder(String outputDir) {
    return new Builder().outputDir(outputDir);
  }

  /** A builder holding these values, to change a few. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.outputDir = outputDir;
    b.seed = seed;
    b.dataSeed = dataSeed;
    b.perDeviceTrainBatchSize = perDeviceTrainBatchSize;
    b.perDeviceEvalBatchSize = perDeviceEvalBatchSize;
    b.gradientAccumulationSteps = gradientAccumulationSteps;
    b.numTrainEpochs = numTrainEpochs;
    b.maxSteps = maxSteps;
    b.learningRate = learningRate;
    b.weightDecay = weightDecay;
    b.adamBeta1 = adamBeta1;
    b.adamBeta2 = adamBeta2;
    b.adamEpsilon = adamEpsilon;
    b.optim = optim;
    b.optimArgs = optimArgs;
    b.lrSchedulerType = lrSchedulerType;
    b.warmupRatio = warmupRatio;
    b.warmupSteps = warmupSteps;
    b.maxGradNorm = maxGradNorm;
    b.fp16 = fp16;
    b.bf16 = bf16;
    b.loggingStrategy = loggingStrategy;
    b.loggingSteps = loggingSteps;
    b.loggingFirstStep = loggingFirstStep;
    b.evalStrategy = evalStrategy;
    b.evalSteps = evalSteps;
    b.saveStrategy = saveStrategy;
    b.saveSteps = saveSteps;
    b.saveTotalLimit = saveTotalLimit;
    b.loadBestModelAtEnd = loadBestModelAtEnd;
    b.metricForBestModel = metricForBestModel;
    b.greaterIsBetter = greaterIsBetter;
    b.resumeFromCheckpoint = resumeFromCheckpoint;
    b.dataloaderDropLast = dataloaderDropLast;
    b.ddpBucketCapMb = ddpBucketCapMb;
    b.disableTqdm = disableTqdm;
    return b;
  }

  /**
   * Builds the arguments from snake_case keys as written in a config file. An unknown key is an error naming
   * the nearest valid key; a value of the wrong type names the key and the type expected.
   *
   * @param where names the source in error messages (a file name, or "TrainingArguments")
   */
  public static TrainingArguments fromMap(Map<String, ?> values, String where) {
    Builder b = new Builder();
    for (Map.Entry<String, ?> e : values.entrySet()) {
      BiConsumer<Builder, Value> setter = SETTERS.get(e.getKey());
      if (setter == null) {
        throw new IllegalArgumentException(where + ": unknown key '" + e.getKey() + "'"
            + KeyNames.didYouMean(e.getKey(), SETTERS.keySet()) + " (valid keys: " + keys() + ")");
      }
      setter.accept(b, new Value(where, e.getKey(), e.getValue()));
    }
    return b.build();
  }

  /** The snake_case keys {@link #fromMap} accepts, in the order transformers documents them. */
  public static Set<String> keys() {
    return Collections.unmodifiableSet(SETTERS.keySet());
  }

  /** These arguments as snake_case keys and values (what {@code training_args.json} holds). */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("output_dir", outputDir);
    m.put("seed", seed);
    m.put("data_seed", dataSeed);
    m.put("per_device_train_batch_size", perDeviceTrainBatchSize);
    m.put("per_device_eval_batch_size", perDeviceEvalBatchSize);
    m.put("gradient_accumulation_steps", gradientAccumulationSteps);
    m.put("num_train_epochs", numTrainEpochs);
    m.put("max_steps", maxSteps);
    m.put("learning_rate", learningRate);
    m.put("weight_decay", weightDecay);
    m.put("adam_beta1", adamBeta1);
    m.put("adam_beta2", adamBeta2);
    m.put("adam_epsilon", adamEpsilon);
    m.put("optim", optim);
    m.put("optim_args", optimArgs);
    m.put("lr_scheduler_type", lrSchedulerType);
    m.put("warmup_ratio", warmupRatio);
    m.put("warmup_steps", warmupSteps);
    m.put("max_grad_norm", maxGradNorm);
    m.put("fp16", fp16);
    m.put("bf16", bf16);
    m.put("logging_strategy", loggingStrategy);
    m.put("logging_steps", loggingSteps);
    m.put("logging_first_step", loggingFirstStep);
    m.put("eval_strategy", evalStrategy);
    m.put("eval_steps", evalSteps);
    m.put("save_strategy", saveStrategy);
    m.put("save_steps", saveSteps);
    m.put("save_total_limit", saveTotalLimit);
    m.put("load_best_model_at_end", loadBestModelAtEnd);
    m.put("metric_for_best_model", metricForBestModel);
    m.put("greater_is_better", greaterIsBetter);
    m.put("resume_from_checkpoint", resumeFromCheckpoint);
    m.put("dataloader_drop_last", dataloaderDropLast);
    m.put("ddp_bucket_cap_mb", ddpBucketCapMb);
    m.put("disable_tqdm", disableTqdm);
    return m;
  }

  // ---- accessors (Java names of the snake_case keys)

  public String outputDir() { return outputDir; }
  public long seed() { return seed; }
  /** The seed of the data order: {@code data_seed}, or {@code seed} when unset (as transformers). */
  public long dataSeed() { return dataSeed != null ? dataSeed : seed; }
  public int perDeviceTrainBatchSize() { return perDeviceTrainBatchSize; }
  public int perDeviceEvalBatchSize() { return perDeviceEvalBatchSize; }
  public int gradientAccumulationSteps() { return gradientAccumulationSteps; }
  public double numTrainEpochs() { return numTrainEpochs; }
  public long maxSteps() { return maxSteps; }
  public double learningRate() { return learningRate; }
  public double weightDecay() { return weightDecay; }
  public double adamBeta1() { return adamBeta1; }
  public double adamBeta2() { return adamBeta2; }
  public double adamEpsilon() { return adamEpsilon; }
  public String optim() { return optim; }
  public String optimArgs() { return optimArgs; }
  public String lrSchedulerType() { return lrSchedulerType; }
  public double warmupRatio() { return warmupRatio; }
  public long warmupSteps() { return warmupSteps; }
  public double maxGradNorm() { return maxGradNorm; }
  public boolean fp16() { return fp16; }
  public String loggingStrategy() { return loggingStrategy; }
  public double loggingSteps() { return loggingSteps; }
  public boolean loggingFirstStep() { return loggingFirstStep; }
  public String evalStrategy() { return evalStrategy; }
  /** {@code eval_steps}, or {@code logging_steps} when unset (as transformers). */
  public double evalSteps() { return evalSteps != null ? evalSteps : loggingSteps; }
  public String saveStrategy() { return saveStrategy; }
  public double saveSteps() { return saveSteps; }
  public Integer saveTotalLimit() { return saveTotalLimit; }
  public boolean loadBestModelAtEnd() { return loadBestModelAtEnd; }
  public String metricForBestModel() { return metricForBestModel; }
  public boolean greaterIsBetter() { return greaterIsBetter != null && greaterIsBetter; }
  public String resumeFromCheckpoint() { return resumeFromCheckpoint; }
  public boolean dataloaderDropLast() { return dataloaderDropLast; }
  public int ddpBucketCapMb() { return ddpBucketCapMb; }
  public boolean disableTqdm() { return disableTqdm; }

  /**
   * The number of warmup steps for {@code numTrainingSteps} optimizer steps, as transformers'
   * {@code get_warmup_steps}: {@code warmup_steps} when positive, else {@code ceil(num * warmup_ratio)}.
   */
  public long warmupStepsFor(long numTrainingSteps) {
    return warmupSteps > 0 ? warmupSteps : (long) Math.ceil(numTrainingSteps * warmupRatio);
  }

  /** An interval given as steps or, below 1, as a ratio of the total steps (transformers' rule). */
  public static long intervalSteps(double steps, long maxSteps) {
    return steps < 1 ? (long) Math.ceil(maxSteps * steps) : (long) steps;
  }

  @Override
  public String toString() {
    return "TrainingArguments" + toMap();
  }

  /** Builds {@link TrainingArguments}; defaults are transformers'. */
  public static final class Builder {
    private String outputDir = "trainer_output";
    private long seed = 42;
    private Long dataSeed;
    private int perDeviceTrainBatchSize = 8;
    private int perDeviceEvalBatchSize = 8;
    private int gradientAccumulationSteps = 1;
    private double numTrainEpochs = 3.0;
    private long maxSteps = -1;
    private double learningRate = 5e-5;
    private double weightDecay = 0.0;
    private double adamBeta1 = 0.9;
    private double adamBeta2 = 0.999;
    private double adamEpsilon = 1e-8;
    private String optim = "adamw_torch";
    private String optimArgs;
    private String lrSchedulerType = "linear";
    private double warmupRatio = 0.0;
    private long warmupSteps = 0;
    private double maxGradNorm = 1.0;
    private boolean fp16;
    private boolean bf16;
    private String loggingStrategy = "steps";
    private double loggingSteps = 500;
    private boolean loggingFirstStep;
    private String evalStrategy = "no";
    private Double evalSteps;
    private String saveStrategy = "steps";
    private double saveSteps = 500;
    private Integer saveTotalLimit;
    private boolean loadBestModelAtEnd;
    private String metricForBestModel;
    private Boolean greaterIsBetter;
    private String resumeFromCheckpoint;
    private boolean dataloaderDropLast;
    private int ddpBucketCapMb = 25;
    private boolean disableTqdm;

    private Builder() {}

    public Builder outputDir(String v) { outputDir = v; return this; }
    public Builder seed(long v) { seed = v; return this; }
    public Builder dataSeed(Long v) { dataSeed = v; return this; }
    public Builder perDeviceTrainBatchSize(int v) { perDeviceTrainBatchSize = v; return this; }
    public Builder perDeviceEvalBatchSize(int v) { perDeviceEvalBatchSize = v; return this; }
    public Builder gradientAccumulationSteps(int v) { gradientAccumulationSteps = v; return this; }
    public Builder numTrainEpochs(double v) { numTrainEpochs = v; return this; }
    public Builder maxSteps(long v) { maxSteps = v; return this; }
    public Builder learningRate(double v) { learningRate = v; return this; }
    public Builder weightDecay(double v) { weightDecay = v; return this; }
    public Builder adamBeta1(double v) { adamBeta1 = v; return this; }
    public Builder adamBeta2(double v) { adamBeta2 = v; return this; }
    public Builder adamEpsilon(double v) { adamEpsilon = v; return this; }
    public Builder optim(String v) { optim = v; return this; }
    public Builder optimArgs(String v) { optimArgs = v; return this; }
    public Builder lrSchedulerType(String v) { lrSchedulerType = v; return this; }
    public Builder warmupRatio(double v) { warmupRatio = v; return this; }
    public Builder warmupSteps(long v) { warmupSteps = v; return this; }
    public Builder maxGradNorm(double v) { maxGradNorm = v; return this; }
    public Builder fp16(boolean v) { fp16 = v; return this; }
    public Builder bf16(boolean v) { bf16 = v; return this; }
    public Builder loggingStrategy(String v) { loggingStrategy = v; return this; }
    public Builder loggingSteps(double v) { loggingSteps = v; return this; }
    public Builder loggingFirstStep(boolean v) { loggingFirstStep = v; return this; }
    public Builder evalStrategy(String v) { evalStrategy = v; return this; }
    public Builder evalSteps(Double v) { evalSteps = v; return this; }
    public Builder saveStrategy(String v) { saveStrategy = v; return this; }
    public Builder saveSteps(double v) { saveSteps = v; return this; }
    public Builder saveTotalLimit(Integer v) { saveTotalLimit = v; return this; }
    public Builder loadBestModelAtEnd(boolean v) { loadBestModelAtEnd = v; return this; }
    public Builder metricForBestModel(String v) { metricForBestModel = v; return this; }
    public Builder greaterIsBetter(Boolean v) { greaterIsBetter = v; return this; }
    public Builder resumeFromCheckpoint(String v) { resumeFromCheckpoint = v; return this; }
    public Builder dataloaderDropLast(boolean v) { dataloaderDropLast = v; return this; }
    public Builder ddpBucketCapMb(int v) { ddpBucketCapMb = v; return this; }
    public Builder disableTqdm(boolean v) { disableTqdm = v; return this; }

    /** Checks every value and combination as transformers does, then builds. */
    public TrainingArguments build() {
      List<String> errors = new ArrayList<>();
      if (outputDir == null || outputDir.isBlank()) {
        errors.add("output_dir must be set");
      }
      if (bf16) {
        errors.add("bf16=true is not supported: DJL 0.36's PyTorch JNI aborts the JVM on bfloat16 tensors;"
            + " use fp16=true for mixed precision or neither for float32");
      }
      if (fp16 && bf16) {
        errors.add("At most one of fp16 and bf16 can be True, but not both");
      }
      positive(errors, "per_device_train_batch_size", perDeviceTrainBatchSize);
      positive(errors, "per_device_eval_batch_size", perDeviceEvalBatchSize);
      positive(errors, "gradient_accumulation_steps", gradientAccumulationSteps);
      positive(errors, "ddp_bucket_cap_mb", ddpBucketCapMb);
      if (maxSteps == 0 || maxSteps < -1) {
        errors.add("max_steps must be a positive number of steps, or -1 to train num_train_epochs, got "
            + maxSteps);
      }
      if (maxSteps == -1 && !(numTrainEpochs > 0)) {
        errors.add("num_train_epochs must be positive when max_steps is -1, got " + numTrainEpochs);
      }
      if (!(learningRate >= 0)) {
        errors.add("learning_rate must be >= 0, got " + learningRate);
      }
      if (!(weightDecay >= 0)) {
        errors.add("weight_decay must be >= 0, got " + weightDecay);
      }
      if (!(adamBeta1 >= 0 && adamBeta1 < 1)) {
        errors.add("adam_beta1 must be in [0, 1), got " + adamBeta1);
      }
      if (!(adamBeta2 >= 0 && adamBeta2 < 1)) {
        errors.add("adam_beta2 must be in [0, 1), got " + adamBeta2);
      }
      if (!(adamEpsilon >= 0)) {
        errors.add("adam_epsilon must be >= 0, got " + adamEpsilon);
      }
      if (!(maxGradNorm >= 0) && !Double.isNaN(maxGradNorm)) {
        errors.add("max_grad_norm must be >= 0 (0 turns clipping off), got " + maxGradNorm);
      }
      oneOf(errors, "lr_scheduler_type", lrSchedulerType, SCHEDULER_TYPES, "SchedulerType");
      oneOf(errors, "optim", optim, OPTIMIZERS, "OptimizerNames");
      oneOf(errors, "logging_strategy", loggingStrategy, INTERVAL_STRATEGIES, "IntervalStrategy");
      oneOf(errors, "eval_strategy", evalStrategy, INTERVAL_STRATEGIES, "IntervalStrategy");
      List<String> saveStrategies = List.of("no", "steps", "epoch", "best");
      oneOf(errors, "save_strategy", saveStrategy, saveStrategies, "SaveStrategy");
      if (!(warmupRatio >= 0 && warmupRatio <= 1)) {
        errors.add("warmup_ratio must lie in range [0,1], got " + warmupRatio);
      }
      if (warmupSteps < 0) {
        errors.add("warmup_steps must be >= 0, got " + warmupSteps);
      }
      if (warmupRatio > 0 && warmupSteps > 0) {
        LOG.info("Both warmup_ratio and warmup_steps given, warmup_steps will override any effect of"
            + " warmup_ratio during training");
      }
      checkSteps(errors, "logging_steps", loggingSteps, "steps".equals(loggingStrategy));
      checkSteps(errors, "save_steps", saveSteps, "steps".equals(saveStrategy));
      if ("steps".equals(evalStrategy)) {
        if (evalSteps == null && loggingSteps == 0) {
          errors.add("evaluation strategy steps requires either non-zero --eval_steps or --logging_steps");
        }
        if (evalSteps != null) {
          checkSteps(errors, "eval_steps", evalSteps, true);
        }
      }
      if (saveTotalLimit != null && saveTotalLimit < 0) {
        errors.add("save_total_limit must be >= 0 or unset, got " + saveTotalLimit);
      }
      if ("best".equals(saveStrategy) && metricForBestModel == null) {
        errors.add("save_strategy=best requires metric_for_best_model to be set");
      }
      if (loadBestModelAtEnd && !"best".equals(saveStrategy)) {
        if (!evalStrategy.equals(saveStrategy)) {
          errors.add("--load_best_model_at_end requires the save and eval strategy to match, but found"
              + " - Evaluation strategy: " + evalStrategy + " - Save strategy: " + saveStrategy);
        } else if ("steps".equals(evalStrategy)) {
          double eval = evalSteps != null ? evalSteps : loggingSteps;
          boolean ratios = eval < 1 || saveSteps < 1;
          if (ratios ? (eval < 1) != (saveSteps < 1) || !isWhole(saveSteps / eval) : saveSteps % eval != 0) {
            errors.add("--load_best_model_at_end requires the saving steps to be a round multiple of the"
                + " evaluation steps, but found " + saveSteps + ", which is not a round multiple of " + eval);
          }
        }
      }
      if (loadBestModelAtEnd && metricForBestModel == null) {
        metricForBestModel = "loss";
      }
      if (metricForBestModel != null && greaterIsBetter == null) {
        greaterIsBetter = !(metricForBestModel.equals("loss") || metricForBestModel.equals("eval_loss"));
      }
      if (!errors.isEmpty()) {
        throw new IllegalArgumentException("Invalid TrainingArguments: " + String.join("; ", errors));
      }
      return new TrainingArguments(this);
    }

    private static boolean isWhole(double v) {
      return Math.abs(v - Math.rint(v)) < 1e-9;
    }

    private static void positive(List<String> errors, String key, long v) {
      if (v <= 0) {
        errors.add(key + " must be a positive integer, got " + v);
      }
    }

    private static void oneOf(List<String> errors, String key, String v, List<String> valid, String type) {
      if (v == null || !valid.contains(v)) {
        errors.add(key + ": " + v + " is not a valid " + type + ", please select one of " + valid
            + (v == null ? "" : KeyNames.didYouMean(v, valid)));
      }
    }

    private static void checkSteps(List<String> errors, String key, double v, boolean used) {
      if (!used) {
        return;
      }
      if (!(v > 0)) {
        errors.add(key + " must be positive when its strategy is steps, got " + v);
      } else if (v > 1 && v != Math.floor(v)) {
        errors.add("--" + key + " must be an integer if bigger than 1: " + v);
      }
    }
  }

  // ---- snake_case keys for config files

  private static final Map<String, BiConsumer<Builder, Value>> SETTERS = new LinkedHashMap<>();

  static {
    SETTERS.put("output_dir", (b, v) -> b.outputDir(v.string()));
    SETTERS.put("seed", (b, v) -> b.seed(v.integer()));
    SETTERS.put("data_seed", (b, v) -> b.dataSeed(v.isNull() ? null : v.integer()));
    SETTERS.put("per_device_train_batch_size", (b, v) -> b.perDeviceTrainBatchSize(v.int32()));
    SETTERS.put("per_device_eval_batch_size", (b, v) -> b.perDeviceEvalBatchSize(v.int32()));
    SETTERS.put("gradient_accumulation_steps", (b, v) -> b.gradientAccumulationSteps(v.int32()));
    SETTERS.put("num_train_epochs", (b, v) -> b.numTrainEpochs(v.number()));
    SETTERS.put("max_steps", (b, v) -> b.maxSteps(v.integer()));
    SETTERS.put("learning_rate", (b, v) -> b.learningRate(v.number()));
    SETTERS.put("weight_decay", (b, v) -> b.weightDecay(v.number()));
    SETTERS.put("adam_beta1", (b, v) -> b.adamBeta1(v.number()));
    SETTERS.put("adam_beta2", (b, v) -> b.adamBeta2(v.number()));
    SETTERS.put("adam_epsilon", (b, v) -> b.adamEpsilon(v.number()));
    SETTERS.put("optim", (b, v) -> b.optim(v.string()));
    SETTERS.put("optim_args", (b, v) -> b.optimArgs(v.isNull() ? null : v.string()));
    SETTERS.put("lr_scheduler_type", (b, v) -> b.lrSchedulerType(v.string()));
    SETTERS.put("warmup_ratio", (b, v) -> b.warmupRatio(v.number()));
    SETTERS.put("warmup_steps", (b, v) -> b.warmupSteps(v.integer()));
    SETTERS.put("max_grad_norm", (b, v) -> b.maxGradNorm(v.number()));
    SETTERS.put("fp16", (b, v) -> b.fp16(v.bool()));
    SETTERS.put("bf16", (b, v) -> b.bf16(v.bool()));
    SETTERS.put("logging_strategy", (b, v) -> b.loggingStrategy(v.strategy()));
    SETTERS.put("logging_steps", (b, v) -> b.loggingSteps(v.number()));
    SETTERS.put("logging_first_step", (b, v) -> b.loggingFirstStep(v.bool()));
    SETTERS.put("eval_strategy", (b, v) -> b.evalStrategy(v.strategy()));
    SETTERS.put("eval_steps", (b, v) -> b.evalSteps(v.isNull() ? null : v.number()));
    SETTERS.put("save_strategy", (b, v) -> b.saveStrategy(v.strategy()));
    SETTERS.put("save_steps", (b, v) -> b.saveSteps(v.number()));
    SETTERS.put("save_total_limit", (b, v) -> b.saveTotalLimit(v.isNull() ? null : v.int32()));
    SETTERS.put("load_best_model_at_end", (b, v) -> b.loadBestModelAtEnd(v.bool()));
    SETTERS.put("metric_for_best_model", (b, v) -> b.metricForBestModel(v.isNull() ? null : v.string()));
    SETTERS.put("greater_is_better", (b, v) -> b.greaterIsBetter(v.isNull() ? null : v.bool()));
    SETTERS.put("resume_from_checkpoint",
        (b, v) -> b.resumeFromCheckpoint(v.isNull() ? null : v.string()));
    SETTERS.put("dataloader_drop_last", (b, v) -> b.dataloaderDropLast(v.bool()));
    SETTERS.put("ddp_bucket_cap_mb", (b, v) -> b.ddpBucketCapMb(v.int32()));
    SETTERS.put("disable_tqdm", (b, v) -> b.disableTqdm(v.bool()));
  }

  /** One config value with where it came from, converted with errors that name the key. */
  private record Value(String where, String key, Object raw) {
    boolean isNull() {
      return raw == null || (raw instanceof String s && (s.equals("null") || s.equals("None")));
    }

    String string() {
      if (raw == null) {
        throw bad("a string");
      }
      return raw.toString();
    }

    /** A strategy name; YAML 1.1 (PyYAML, SnakeYAML) reads an unquoted {@code no} as false, so false means "no". */
    String strategy() {
      return Boolean.FALSE.equals(raw) ? "no" : string();
    }

    double number() {
      if (raw instanceof Number n) {
        return n.doubleValue();
      }
      try {
        return Double.parseDouble(string().trim());
      } catch (NumberFormatException e) {
        throw bad("a number");
      }
    }

    long integer() {
      if (raw instanceof Integer || raw instanceof Long || raw instanceof Short) {
        return ((Number) raw).longValue();
      }
      try {
        return Long.parseLong(string().trim());
      } catch (NumberFormatException e) {
        throw bad("an integer");
      }
    }

    int int32() {
      long v = integer();
      if (v != (int) v) {
        throw bad("an integer that fits 32 bits");
      }
      return (int) v;
    }

    boolean bool() {
      if (raw instanceof Boolean b) {
        return b;
      }
      String s = string().trim().toLowerCase(Locale.ROOT);
      if (s.equals("true")) {
        return true;
      }
      if (s.equals("false")) {
        return false;
      }
      throw bad("true or false");
    }

    IllegalArgumentException bad(String expected) {
      return new IllegalArgumentException(where + ": key '" + key + "': expected " + expected + ", got '"
          + raw + "'");
    }
  }
}
