package io.sparkformers.training;

import io.sparkformers.config.ConfigDef;
import io.sparkformers.config.ConfigKey;
import io.sparkformers.config.ConfigTypes;
import io.sparkformers.config.Validator;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The settings of one training run, with Hugging Face's {@code TrainingArguments} names (snake_case in config
 * files, through {@link #fromMap}) and defaults. Immutable and serialisable (it travels to the Spark barrier
 * tasks); build it with {@link #builder(String)}. {@link Builder#build()} makes the checks transformers makes in
 * {@code __post_init__}, so that a bad value or combination fails before training starts.
 *
 * <p>Every key is declared once below ({@link #definition()}: name, type, default, validator, documentation,
 * group); the builder, {@link #fromMap}, {@link #toMap}, {@link #keys()} and the documentation read those
 * declarations.
 */
public final class TrainingArguments implements Serializable {
  private static final long serialVersionUID = 1L;

  private static final Logger LOG = Logger.getLogger(TrainingArguments.class.getName());

  /** transformers' {@code SchedulerType} values this Trainer implements. */
  public static final List<String> SCHEDULER_TYPES = names(SchedulerType.values());
  /** transformers' {@code IntervalStrategy} values (save_strategy also takes {@code best}). */
  public static final List<String> INTERVAL_STRATEGIES = names(IntervalStrategy.values());
  /** transformers' {@code OptimizerNames} values this Trainer implements. */
  public static final List<String> OPTIMIZERS = names(OptimizerNames.values());

  // ---- the keys, in the order transformers documents them

  private static final ConfigDef DEF = new ConfigDef("");

  private static final String OUTPUT = "Output and seeds";
  private static final String BATCHES = "Batches and length of training";
  private static final String OPTIMIZER = "Optimizer";
  private static final String SCHEDULE = "Learning-rate schedule";
  private static final String PRECISION = "Precision";
  private static final String LOGGING = "Logging";
  private static final String EVALUATION = "Evaluation";
  private static final String CHECKPOINTS = "Checkpoints";
  private static final String DISTRIBUTED = "Data-parallel training";

  private static final ConfigKey<String> OUTPUT_DIR = DEF.define(ConfigKey.builder("output_dir", ConfigTypes.STRING)
      .defaultValue("trainer_output").group(OUTPUT)
      .validator(Validator.of("not blank", (String s) -> !s.isBlank()))
      .invalidMessage((key, v) -> key + " must be set")
      .doc("where checkpoints, training_args.json, the model and metrics.json are written: a local folder, a"
          + " Hadoop URI (hdfs://, s3a://)"));
  private static final ConfigKey<Boolean> OVERWRITE_OUTPUT_DIR = DEF.define(
      ConfigKey.builder("overwrite_output_dir", ConfigTypes.BOOLEAN).defaultValue(false).group(OUTPUT)
          .doc("a train job whose output_dir already holds files fails unless this is true (the previous run's"
              + " checkpoints, model, metrics and logs are then removed first) or resume_from_checkpoint is set, as"
              + " transformers' example scripts"));
  private static final ConfigKey<Long> SEED = DEF.define(ConfigKey.builder("seed", ConfigTypes.LONG)
      .defaultValue(42L).group(OUTPUT)
      .doc("the random seed of model initialisation and dropout (and of the data order unless data_seed is set)"));
  private static final ConfigKey<Long> DATA_SEED = DEF.define(ConfigKey.builder("data_seed", ConfigTypes.LONG)
      .defaultDoc("seed").group(OUTPUT).doc("the random seed of the data order"));
  private static final ConfigKey<Integer> PER_DEVICE_TRAIN_BATCH_SIZE = DEF.define(
      ConfigKey.builder("per_device_train_batch_size", ConfigTypes.INT).defaultValue(8).group(BATCHES)
          .validator(Validator.positive()).invalidMessage(TrainingArguments::positiveInteger)
          .doc("training examples per rank in one forward and backward pass"));
  private static final ConfigKey<Integer> PER_DEVICE_EVAL_BATCH_SIZE = DEF.define(
      ConfigKey.builder("per_device_eval_batch_size", ConfigTypes.INT).defaultValue(8).group(BATCHES)
          .validator(Validator.positive()).invalidMessage(TrainingArguments::positiveInteger)
          .doc("evaluation examples per rank in one forward pass"));
  private static final ConfigKey<Integer> GRADIENT_ACCUMULATION_STEPS = DEF.define(
      ConfigKey.builder("gradient_accumulation_steps", ConfigTypes.INT).defaultValue(1).group(BATCHES)
          .validator(Validator.positive()).invalidMessage(TrainingArguments::positiveInteger)
          .doc("forward and backward passes whose gradients are summed before each optimizer step"));
  private static final ConfigKey<Double> NUM_TRAIN_EPOCHS = DEF.define(
      ConfigKey.builder("num_train_epochs", ConfigTypes.DOUBLE).defaultValue(3.0).group(BATCHES)
          .doc("epochs to train when max_steps is -1; a fraction trains that part of the last epoch"));
  private static final ConfigKey<Long> MAX_STEPS = DEF.define(ConfigKey.builder("max_steps", ConfigTypes.LONG)
      .defaultValue(-1L).group(BATCHES)
      .validator(Validator.of("-1 or > 0", (Long v) -> v == -1 || v > 0))
      .invalidMessage((key, v) -> key + " must be a positive number of steps, or -1 to train num_train_epochs, got "
          + v)
      .doc("optimizer steps to train, overriding num_train_epochs; -1 trains num_train_epochs"));
  private static final ConfigKey<Double> LEARNING_RATE = DEF.define(
      ConfigKey.builder("learning_rate", ConfigTypes.DOUBLE).defaultValue(5e-5).group(OPTIMIZER)
          .validator(Validator.atLeast(0)).invalidMessage(TrainingArguments::atLeastZero)
          .doc("the initial learning rate (the peak, after warmup)"));
  private static final ConfigKey<Double> WEIGHT_DECAY = DEF.define(
      ConfigKey.builder("weight_decay", ConfigTypes.DOUBLE).defaultValue(0.0).group(OPTIMIZER)
          .validator(Validator.atLeast(0)).invalidMessage(TrainingArguments::atLeastZero)
          .doc("weight decay of every parameter but biases and normalisation weights (decoupled, in AdamW)"));
  private static final ConfigKey<Double> ADAM_BETA1 = DEF.define(ConfigKey.builder("adam_beta1", ConfigTypes.DOUBLE)
      .defaultValue(0.9).group(OPTIMIZER).validator(TrainingArguments.beta())
      .invalidMessage(TrainingArguments::betaMessage).doc("AdamW's beta1, the decay of the first moment"));
  private static final ConfigKey<Double> ADAM_BETA2 = DEF.define(ConfigKey.builder("adam_beta2", ConfigTypes.DOUBLE)
      .defaultValue(0.999).group(OPTIMIZER).validator(TrainingArguments.beta())
      .invalidMessage(TrainingArguments::betaMessage).doc("AdamW's beta2, the decay of the second moment"));
  private static final ConfigKey<Double> ADAM_EPSILON = DEF.define(
      ConfigKey.builder("adam_epsilon", ConfigTypes.DOUBLE).defaultValue(1e-8).group(OPTIMIZER)
          .validator(Validator.atLeast(0)).invalidMessage(TrainingArguments::atLeastZero)
          .doc("AdamW's epsilon, added to the denominator"));
  private static final ConfigKey<OptimizerNames> OPTIM = DEF.define(
      ConfigKey.builder("optim", ConfigTypes.enumOf(OptimizerNames.class)).defaultValue(OptimizerNames.ADAMW_TORCH)
          .group(OPTIMIZER).doc("the optimizer"));
  private static final ConfigKey<String> OPTIM_ARGS = DEF.define(ConfigKey.builder("optim_args", ConfigTypes.STRING)
      .group(OPTIMIZER).doc("more optimizer arguments, as transformers writes them: \"momentum=0.9,nesterov=True\""
          + " (sgd: momentum, dampening, nesterov)"));
  private static final ConfigKey<SchedulerType> LR_SCHEDULER_TYPE = DEF.define(
      ConfigKey.builder("lr_scheduler_type", ConfigTypes.enumOf(SchedulerType.class))
          .defaultValue(SchedulerType.LINEAR).group(SCHEDULE).doc("the learning-rate schedule after warmup"));
  private static final ConfigKey<Double> WARMUP_RATIO = DEF.define(
      ConfigKey.builder("warmup_ratio", ConfigTypes.DOUBLE).defaultValue(0.0).group(SCHEDULE)
          .validator(Validator.between(0, 1))
          .invalidMessage((key, v) -> key + " must lie in range [0,1], got " + v)
          .doc("the fraction of the training steps spent warming the learning rate up linearly from 0"));
  private static final ConfigKey<Long> WARMUP_STEPS = DEF.define(ConfigKey.builder("warmup_steps", ConfigTypes.LONG)
      .defaultValue(0L).group(SCHEDULE).validator(Validator.atLeast(0))
      .invalidMessage(TrainingArguments::atLeastZero)
      .doc("optimizer steps of linear warmup; when positive, it overrides warmup_ratio"));
  private static final ConfigKey<Double> MAX_GRAD_NORM = DEF.define(
      ConfigKey.builder("max_grad_norm", ConfigTypes.DOUBLE).defaultValue(1.0).group(OPTIMIZER)
          .validator(Validator.of(">= 0", (Double v) -> v >= 0 || Double.isNaN(v)))
          .invalidMessage((key, v) -> key + " must be >= 0 (0 turns clipping off), got " + v)
          .doc("gradients are clipped to this global L2 norm; 0 turns clipping off"));
  private static final ConfigKey<Boolean> FP16 = DEF.define(ConfigKey.builder("fp16", ConfigTypes.BOOLEAN)
      .defaultValue(false).group(PRECISION)
      .doc("float16 mixed precision (GPU only): matrix products in float16, float32 master weights, dynamic loss"
          + " scaling"));
  private static final ConfigKey<Boolean> BF16 = DEF.define(ConfigKey.builder("bf16", ConfigTypes.BOOLEAN)
      .defaultValue(false).group(PRECISION)
      .doc("bfloat16 mixed precision (CPU and GPU), torch autocast's: matrix products in bfloat16; weights,"
          + " gradients and optimizer state float32"));
  private static final ConfigKey<IntervalStrategy> LOGGING_STRATEGY = DEF.define(
      ConfigKey.builder("logging_strategy", ConfigTypes.enumOf(IntervalStrategy.class))
          .defaultValue(IntervalStrategy.STEPS).group(LOGGING).doc("when the loss and learning rate are logged"));
  private static final ConfigKey<Double> LOGGING_STEPS = DEF.define(
      ConfigKey.builder("logging_steps", ConfigTypes.DOUBLE).defaultValue(500.0).group(LOGGING)
          .doc("log every this many optimizer steps (logging_strategy steps); below 1, a fraction of the total"
              + " steps"));
  private static final ConfigKey<Boolean> LOGGING_FIRST_STEP = DEF.define(
      ConfigKey.builder("logging_first_step", ConfigTypes.BOOLEAN).defaultValue(false).group(LOGGING)
          .doc("also log the first optimizer step"));
  private static final ConfigKey<IntervalStrategy> EVAL_STRATEGY = DEF.define(
      ConfigKey.builder("eval_strategy", ConfigTypes.enumOf(IntervalStrategy.class))
          .defaultValue(IntervalStrategy.NO).group(EVALUATION).doc("when the model is evaluated on the eval data"));
  private static final ConfigKey<Double> EVAL_STEPS = DEF.define(ConfigKey.builder("eval_steps", ConfigTypes.DOUBLE)
      .defaultDoc("logging_steps").group(EVALUATION)
      .doc("evaluate every this many optimizer steps (eval_strategy steps); below 1, a fraction of the total"
          + " steps"));
  private static final ConfigKey<Boolean> BATCH_EVAL_METRICS = DEF.define(
      ConfigKey.builder("batch_eval_metrics", ConfigTypes.BOOLEAN).defaultValue(false).group(EVALUATION)
          .doc("evaluation hands compute_metrics each step's rows (every rank's batch, gathered) to accumulate"
              + " instead of keeping every row's predictions for one call at the end, so that its memory does not"
              + " grow with the eval set; compute_metrics must then accumulate (Trainer.builder().batchMetrics)."
              + " predict() still keeps every row. The train job turns it on unless training_args sets it"));
  private static final ConfigKey<SaveStrategy> SAVE_STRATEGY = DEF.define(
      ConfigKey.builder("save_strategy", ConfigTypes.enumOf(SaveStrategy.class)).defaultValue(SaveStrategy.STEPS)
          .group(CHECKPOINTS).doc("when checkpoints are saved; best: whenever metric_for_best_model improves"));
  private static final ConfigKey<Double> SAVE_STEPS = DEF.define(ConfigKey.builder("save_steps", ConfigTypes.DOUBLE)
      .defaultValue(500.0).group(CHECKPOINTS)
      .doc("save every this many optimizer steps (save_strategy steps); below 1, a fraction of the total steps"));
  private static final ConfigKey<Integer> SAVE_TOTAL_LIMIT = DEF.define(
      ConfigKey.builder("save_total_limit", ConfigTypes.INT).group(CHECKPOINTS).defaultDoc("none (keep all)")
          .validator(Validator.atLeast(0))
          .invalidMessage((key, v) -> key + " must be >= 0 or unset, got " + v)
          .doc("the most checkpoints kept: older ones are deleted (never the best one)"));
  private static final ConfigKey<Boolean> LOAD_BEST_MODEL_AT_END = DEF.define(
      ConfigKey.builder("load_best_model_at_end", ConfigTypes.BOOLEAN).defaultValue(false).group(CHECKPOINTS)
          .doc("load the best checkpoint (by metric_for_best_model) when training ends; eval and save strategies"
              + " must match"));
  private static final ConfigKey<String> METRIC_FOR_BEST_MODEL = DEF.define(
      ConfigKey.builder("metric_for_best_model", ConfigTypes.STRING).group(CHECKPOINTS)
          .defaultDoc("loss, when load_best_model_at_end").doc("the evaluation metric that ranks checkpoints"));
  private static final ConfigKey<Boolean> GREATER_IS_BETTER = DEF.define(
      ConfigKey.builder("greater_is_better", ConfigTypes.BOOLEAN).group(CHECKPOINTS)
          .defaultDoc("false for loss and eval_loss, else true")
          .doc("whether a greater metric_for_best_model is better"));
  private static final ConfigKey<String> RESUME_FROM_CHECKPOINT = DEF.define(
      ConfigKey.builder("resume_from_checkpoint", ConfigTypes.STRING).group(CHECKPOINTS)
          .doc("a checkpoint folder to resume from, or true (or last) for the newest complete one in output_dir"));
  private static final ConfigKey<Boolean> DATALOADER_DROP_LAST = DEF.define(
      ConfigKey.builder("dataloader_drop_last", ConfigTypes.BOOLEAN).defaultValue(false).group(BATCHES)
          .doc("drop the last incomplete batch of every epoch"));
  private static final ConfigKey<Integer> DDP_BUCKET_CAP_MB = DEF.define(
      ConfigKey.builder("ddp_bucket_cap_mb", ConfigTypes.INT).defaultValue(25).group(DISTRIBUTED)
          .validator(Validator.positive()).invalidMessage(TrainingArguments::positiveInteger)
          .doc("MiB of gradients per all-reduce bucket (buckets are all-reduced while the next is copied)"));
  private static final ConfigKey<Boolean> DDP_OVERLAP_BACKWARD = DEF.define(
      ConfigKey.builder("ddp_overlap_backward", ConfigTypes.BOOLEAN).defaultValue(false).group(DISTRIBUTED)
          .doc("all-reduce each gradient bucket as soon as backward has finished it, while backward goes on"
              + " (PyTorch DDP's overlap; GPT-2 and Llama-family backward then runs layer by layer, gradients"
              + " bit-identical). Off by default: on CPU ranks the all-reduce takes cores from backward, and it"
              + " measured no faster"));
  private static final ConfigKey<DdpBackend> DDP_BACKEND = DEF.define(
      ConfigKey.builder("ddp_backend", ConfigTypes.enumOf(DdpBackend.class))
          .defaultDoc("nccl when the rank has a GPU, else tcp").group(DISTRIBUTED)
          .doc("the transport between ranks: tcp (sockets between hosts, shared memory within one; GPU tensors are"
              + " staged through host memory) or nccl (the system's libnccl.so.2 on GPU memory; where any rank has"
              + " no GPU or cannot load libnccl, every rank falls back to tcp)"));
  private static final ConfigKey<Integer> DDP_TIMEOUT = DEF.define(ConfigKey.builder("ddp_timeout", ConfigTypes.INT)
      .defaultValue(1800).group(DISTRIBUTED).validator(Validator.positive())
      .invalidMessage(TrainingArguments::positiveInteger)
      .doc("seconds a collective (and connecting) waits for the other ranks before every rank fails"));
  private static final ConfigKey<Boolean> DISABLE_TQDM = DEF.define(
      ConfigKey.builder("disable_tqdm", ConfigTypes.BOOLEAN).defaultValue(false).group(LOGGING)
          .doc("no progress bar on the driver: each log entry (loss, learning rate, evaluation) is printed as a"
              + " line of JSON instead, as transformers' PrinterCallback"));

  static {
    DEF.seal();
  }

  private final Map<String, Object> values;

  private TrainingArguments(Map<String, Object> values) {
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
  }

  public static Builder builder(String outputDir) {
    return new Builder().outputDir(outputDir);
  }

  /** The declaration of every key: name, type, default, validator, documentation and group. */
  public static ConfigDef definition() {
    return DEF;
  }

  /** A builder holding these values, to change a few. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.values.putAll(values);
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
      ConfigKey<?> key = DEF.require(where, e.getKey());
      b.values.put(key.name(), key.convert(where, e.getValue()));
    }
    return b.build();
  }

  /** The snake_case keys {@link #fromMap} accepts, in the order transformers documents them. */
  public static Set<String> keys() {
    return DEF.names();
  }

  /** These arguments as snake_case keys and values (what {@code training_args.json} holds; enums as strings). */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    for (ConfigKey<?> key : DEF.keys()) {
      m.put(key.name(), key.external(values.get(key.name())));
    }
    return m;
  }

  @SuppressWarnings("unchecked")
  private <T> T get(ConfigKey<T> key) {
    return (T) values.get(key.name());
  }

  // ---- accessors (Java names of the snake_case keys)

  public String outputDir() { return get(OUTPUT_DIR); }
  public boolean overwriteOutputDir() { return get(OVERWRITE_OUTPUT_DIR); }
  public long seed() { return get(SEED); }
  /** The seed of the data order: {@code data_seed}, or {@code seed} when unset (as transformers). */
  public long dataSeed() { return get(DATA_SEED) != null ? get(DATA_SEED) : seed(); }
  public int perDeviceTrainBatchSize() { return get(PER_DEVICE_TRAIN_BATCH_SIZE); }
  public int perDeviceEvalBatchSize() { return get(PER_DEVICE_EVAL_BATCH_SIZE); }
  public int gradientAccumulationSteps() { return get(GRADIENT_ACCUMULATION_STEPS); }
  public double numTrainEpochs() { return get(NUM_TRAIN_EPOCHS); }
  public long maxSteps() { return get(MAX_STEPS); }
  public double learningRate() { return get(LEARNING_RATE); }
  public double weightDecay() { return get(WEIGHT_DECAY); }
  public double adamBeta1() { return get(ADAM_BETA1); }
  public double adamBeta2() { return get(ADAM_BETA2); }
  public double adamEpsilon() { return get(ADAM_EPSILON); }
  public OptimizerNames optim() { return get(OPTIM); }
  public String optimArgs() { return get(OPTIM_ARGS); }
  public SchedulerType lrSchedulerType() { return get(LR_SCHEDULER_TYPE); }
  public double warmupRatio() { return get(WARMUP_RATIO); }
  public long warmupSteps() { return get(WARMUP_STEPS); }
  public double maxGradNorm() { return get(MAX_GRAD_NORM); }
  public boolean fp16() { return get(FP16); }
  public boolean bf16() { return get(BF16); }
  public IntervalStrategy loggingStrategy() { return get(LOGGING_STRATEGY); }
  public double loggingSteps() { return get(LOGGING_STEPS); }
  public boolean loggingFirstStep() { return get(LOGGING_FIRST_STEP); }
  public IntervalStrategy evalStrategy() { return get(EVAL_STRATEGY); }
  /** {@code eval_steps}, or {@code logging_steps} when unset (as transformers). */
  public double evalSteps() { return get(EVAL_STEPS) != null ? get(EVAL_STEPS) : loggingSteps(); }
  /** {@code batch_eval_metrics}: evaluation feeds compute_metrics batch by batch and keeps no predictions. */
  public boolean batchEvalMetrics() { return get(BATCH_EVAL_METRICS); }
  public SaveStrategy saveStrategy() { return get(SAVE_STRATEGY); }
  public double saveSteps() { return get(SAVE_STEPS); }
  public Integer saveTotalLimit() { return get(SAVE_TOTAL_LIMIT); }
  public boolean loadBestModelAtEnd() { return get(LOAD_BEST_MODEL_AT_END); }
  public String metricForBestModel() { return get(METRIC_FOR_BEST_MODEL); }
  public boolean greaterIsBetter() { return Boolean.TRUE.equals(get(GREATER_IS_BETTER)); }
  public String resumeFromCheckpoint() { return get(RESUME_FROM_CHECKPOINT); }
  public boolean dataloaderDropLast() { return get(DATALOADER_DROP_LAST); }
  public int ddpBucketCapMb() { return get(DDP_BUCKET_CAP_MB); }
  public boolean ddpOverlapBackward() { return get(DDP_OVERLAP_BACKWARD); }
  /** {@code ddp_backend}, or null: nccl where the rank has a GPU, else tcp. */
  public DdpBackend ddpBackend() { return get(DDP_BACKEND); }
  /** {@code ddp_timeout}: the seconds a collective waits for the other ranks. */
  public int ddpTimeout() { return get(DDP_TIMEOUT); }
  public boolean disableTqdm() { return get(DISABLE_TQDM); }

  /**
   * The number of warmup steps for {@code numTrainingSteps} optimizer steps, as transformers'
   * {@code get_warmup_steps}: {@code warmup_steps} when positive, else {@code ceil(num * warmup_ratio)}.
   */
  public long warmupStepsFor(long numTrainingSteps) {
    return warmupSteps() > 0 ? warmupSteps() : (long) Math.ceil(numTrainingSteps * warmupRatio());
  }

  /** An interval given as steps or, below 1, as a ratio of the total steps (transformers' rule). */
  public static long intervalSteps(double steps, long maxSteps) {
    return steps < 1 ? (long) Math.ceil(maxSteps * steps) : (long) steps;
  }

  @Override
  public String toString() {
    return "TrainingArguments" + toMap();
  }

  /** Builds {@link TrainingArguments}; defaults are transformers' (the keys' declared defaults). */
  public static final class Builder {
    /** Every key's value by name, starting from the defaults. */
    private final Map<String, Object> values = new LinkedHashMap<>();

    private Builder() {
      for (ConfigKey<?> key : DEF.keys()) {
        values.put(key.name(), key.defaultValue());
      }
    }

    private <T> Builder set(ConfigKey<T> key, T value) {
      values.put(key.name(), value);
      return this;
    }

    /** A string setter of an enum key: the string as transformers spells it, refused now when unknown. */
    private <T> Builder parse(ConfigKey<T> key, String value) {
      return set(key, key.convert("TrainingArguments", value));
    }

    @SuppressWarnings("unchecked")
    private <T> T get(ConfigKey<T> key) {
      return (T) values.get(key.name());
    }

    public Builder outputDir(String v) { return set(OUTPUT_DIR, v); }
    public Builder overwriteOutputDir(boolean v) { return set(OVERWRITE_OUTPUT_DIR, v); }
    public Builder seed(long v) { return set(SEED, v); }
    public Builder dataSeed(Long v) { return set(DATA_SEED, v); }
    public Builder perDeviceTrainBatchSize(int v) { return set(PER_DEVICE_TRAIN_BATCH_SIZE, v); }
    public Builder perDeviceEvalBatchSize(int v) { return set(PER_DEVICE_EVAL_BATCH_SIZE, v); }
    public Builder gradientAccumulationSteps(int v) { return set(GRADIENT_ACCUMULATION_STEPS, v); }
    public Builder numTrainEpochs(double v) { return set(NUM_TRAIN_EPOCHS, v); }
    public Builder maxSteps(long v) { return set(MAX_STEPS, v); }
    public Builder learningRate(double v) { return set(LEARNING_RATE, v); }
    public Builder weightDecay(double v) { return set(WEIGHT_DECAY, v); }
    public Builder adamBeta1(double v) { return set(ADAM_BETA1, v); }
    public Builder adamBeta2(double v) { return set(ADAM_BETA2, v); }
    public Builder adamEpsilon(double v) { return set(ADAM_EPSILON, v); }
    public Builder optim(OptimizerNames v) { return set(OPTIM, v); }
    /** {@code optim} as transformers spells it ({@code adamw_torch}, {@code sgd}). */
    public Builder optim(String v) { return parse(OPTIM, v); }
    public Builder optimArgs(String v) { return set(OPTIM_ARGS, v); }
    public Builder lrSchedulerType(SchedulerType v) { return set(LR_SCHEDULER_TYPE, v); }
    /** {@code lr_scheduler_type} as transformers spells it ({@code linear}, {@code cosine}, ...). */
    public Builder lrSchedulerType(String v) { return parse(LR_SCHEDULER_TYPE, v); }
    public Builder warmupRatio(double v) { return set(WARMUP_RATIO, v); }
    public Builder warmupSteps(long v) { return set(WARMUP_STEPS, v); }
    public Builder maxGradNorm(double v) { return set(MAX_GRAD_NORM, v); }
    public Builder fp16(boolean v) { return set(FP16, v); }
    public Builder bf16(boolean v) { return set(BF16, v); }
    public Builder loggingStrategy(IntervalStrategy v) { return set(LOGGING_STRATEGY, v); }
    /** {@code logging_strategy} as transformers spells it ({@code no}, {@code steps}, {@code epoch}). */
    public Builder loggingStrategy(String v) { return parse(LOGGING_STRATEGY, v); }
    public Builder loggingSteps(double v) { return set(LOGGING_STEPS, v); }
    public Builder loggingFirstStep(boolean v) { return set(LOGGING_FIRST_STEP, v); }
    public Builder evalStrategy(IntervalStrategy v) { return set(EVAL_STRATEGY, v); }
    /** {@code eval_strategy} as transformers spells it ({@code no}, {@code steps}, {@code epoch}). */
    public Builder evalStrategy(String v) { return parse(EVAL_STRATEGY, v); }
    public Builder evalSteps(Double v) { return set(EVAL_STEPS, v); }
    public Builder batchEvalMetrics(boolean v) { return set(BATCH_EVAL_METRICS, v); }
    public Builder saveStrategy(SaveStrategy v) { return set(SAVE_STRATEGY, v); }
    /** {@code save_strategy} as transformers spells it ({@code no}, {@code steps}, {@code epoch}, {@code best}). */
    public Builder saveStrategy(String v) { return parse(SAVE_STRATEGY, v); }
    public Builder saveSteps(double v) { return set(SAVE_STEPS, v); }
    public Builder saveTotalLimit(Integer v) { return set(SAVE_TOTAL_LIMIT, v); }
    public Builder loadBestModelAtEnd(boolean v) { return set(LOAD_BEST_MODEL_AT_END, v); }
    public Builder metricForBestModel(String v) { return set(METRIC_FOR_BEST_MODEL, v); }
    public Builder greaterIsBetter(Boolean v) { return set(GREATER_IS_BETTER, v); }
    public Builder resumeFromCheckpoint(String v) { return set(RESUME_FROM_CHECKPOINT, v); }
    public Builder dataloaderDropLast(boolean v) { return set(DATALOADER_DROP_LAST, v); }
    public Builder ddpBucketCapMb(int v) { return set(DDP_BUCKET_CAP_MB, v); }
    public Builder ddpOverlapBackward(boolean v) { return set(DDP_OVERLAP_BACKWARD, v); }
    public Builder ddpBackend(DdpBackend v) { return set(DDP_BACKEND, v); }
    /** {@code ddp_backend} by name ({@code tcp} or {@code nccl}; null chooses by device). */
    public Builder ddpBackend(String v) { return parse(DDP_BACKEND, v); }
    /** {@code ddp_timeout} in seconds. */
    public Builder ddpTimeout(int seconds) { return set(DDP_TIMEOUT, seconds); }
    public Builder disableTqdm(boolean v) { return set(DISABLE_TQDM, v); }

    /** Checks every value (its key's validator) and combination as transformers does, then builds. */
    public TrainingArguments build() {
      List<String> errors = new ArrayList<>();
      for (ConfigKey<?> key : DEF.keys()) {
        check(errors, key);
      }
      if (!errors.isEmpty()) {
        // The checks of combinations below read every value: a missing one is reported alone.
        if (DEF.keys().stream().anyMatch(k -> values.get(k.name()) == null && k.defaultValue() != null)) {
          throw new IllegalArgumentException("Invalid TrainingArguments: " + String.join("; ", errors));
        }
      }
      boolean fp16 = get(FP16);
      long maxSteps = get(MAX_STEPS);
      double loggingSteps = get(LOGGING_STEPS);
      double saveSteps = get(SAVE_STEPS);
      Double evalSteps = get(EVAL_STEPS);
      IntervalStrategy evalStrategy = get(EVAL_STRATEGY);
      SaveStrategy saveStrategy = get(SAVE_STRATEGY);
      String metricForBestModel = get(METRIC_FOR_BEST_MODEL);
      if (fp16 && get(BF16)) {
        errors.add("At most one of fp16 and bf16 can be True, but not both");
      }
      if (maxSteps == -1 && !(get(NUM_TRAIN_EPOCHS) > 0)) {
        errors.add("num_train_epochs must be positive when max_steps is -1, got " + get(NUM_TRAIN_EPOCHS));
      }
      if (get(WARMUP_RATIO) > 0 && get(WARMUP_STEPS) > 0) {
        LOG.info("Both warmup_ratio and warmup_steps given, warmup_steps will override any effect of"
            + " warmup_ratio during training");
      }
      checkSteps(errors, "logging_steps", loggingSteps, get(LOGGING_STRATEGY) == IntervalStrategy.STEPS);
      checkSteps(errors, "save_steps", saveSteps, saveStrategy == SaveStrategy.STEPS);
      if (evalStrategy == IntervalStrategy.STEPS) {
        if (evalSteps == null && loggingSteps == 0) {
          errors.add("evaluation strategy steps requires either non-zero --eval_steps or --logging_steps");
        }
        if (evalSteps != null) {
          checkSteps(errors, "eval_steps", evalSteps, true);
        }
      }
      if (saveStrategy == SaveStrategy.BEST && metricForBestModel == null) {
        errors.add("save_strategy=best requires metric_for_best_model to be set");
      }
      if (get(LOAD_BEST_MODEL_AT_END) && saveStrategy != SaveStrategy.BEST) {
        if (!evalStrategy.value().equals(saveStrategy.value())) {
          errors.add("--load_best_model_at_end requires the save and eval strategy to match, but found"
              + " - Evaluation strategy: " + evalStrategy + " - Save strategy: " + saveStrategy);
        } else if (evalStrategy == IntervalStrategy.STEPS) {
          double eval = evalSteps != null ? evalSteps : loggingSteps;
          boolean ratios = eval < 1 || saveSteps < 1;
          if (ratios ? (eval < 1) != (saveSteps < 1) || !isWhole(saveSteps / eval) : saveSteps % eval != 0) {
            errors.add("--load_best_model_at_end requires the saving steps to be a round multiple of the"
                + " evaluation steps, but found " + saveSteps + ", which is not a round multiple of " + eval);
          }
        }
      }
      if (!errors.isEmpty()) {
        throw new IllegalArgumentException("Invalid TrainingArguments: " + String.join("; ", errors));
      }
      // transformers' __post_init__ fills these in.
      if (get(LOAD_BEST_MODEL_AT_END) && metricForBestModel == null) {
        metricForBestModel = "loss";
        set(METRIC_FOR_BEST_MODEL, metricForBestModel);
      }
      if (metricForBestModel != null && get(GREATER_IS_BETTER) == null) {
        set(GREATER_IS_BETTER, !(metricForBestModel.equals("loss") || metricForBestModel.equals("eval_loss")));
      }
      return new TrainingArguments(values);
    }

    private <T> void check(List<String> errors, ConfigKey<T> key) {
      T value = get(key);
      if (value == null && key.defaultValue() != null) {
        errors.add(key.name() + " must be set");
        return;
      }
      String problem = key.problem(value);
      if (problem != null) {
        errors.add(problem);
      }
    }

    private static boolean isWhole(double v) {
      return Math.abs(v - Math.rint(v)) < 1e-9;
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

  // ---- transformers' wording of the checks of single values

  private static String positiveInteger(String key, Number v) {
    return key + " must be a positive integer, got " + v;
  }

  private static String atLeastZero(String key, Number v) {
    return key + " must be >= 0, got " + v;
  }

  private static Validator<Double> beta() {
    return Validator.of("in [0, 1)", v -> v >= 0 && v < 1);
  }

  private static String betaMessage(String key, Double v) {
    return key + " must be in [0, 1), got " + v;
  }

  private static List<String> names(io.sparkformers.config.ConfigEnum[] constants) {
    List<String> out = new ArrayList<>();
    for (io.sparkformers.config.ConfigEnum c : constants) {
      out.add(c.value());
    }
    return List.copyOf(out);
  }
}
