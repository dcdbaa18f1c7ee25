package io.sparkformers.training.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * PEFT's {@code LoraConfig}: the keys, defaults and meaning of {@code adapter_config.json}. Immutable; build
 * one with {@link #builder()} or read one with {@link #fromJson(String)}.
 *
 * <p>{@code target_modules} is either a list of names (a module matches when its path equals a name or ends
 * with "." + name) or one regular expression that must match the whole path, as PEFT matches them;
 * {@code "all-linear"} targets every Linear and Conv1D but the output layer.
 */
public final class LoraConfig {

  /** The file PEFT writes the config to. */
  public static final String FILE_NAME = "adapter_config.json";

  /** The PEFT release whose adapter_config.json layout {@link #toJson()} writes. */
  public static final String PEFT_VERSION = "0.21.0";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  /** Keys that ask for 4-bit or 8-bit base weights: refused with {@link #QUANTIZATION_ERROR}. */
  private static final Set<String> QUANTIZATION_KEYS = Set.of("load_in_4bit", "load_in_8bit", "quantization_config",
      "bnb_4bit_compute_dtype", "bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_quant_storage",
      "llm_int8_threshold", "llm_int8_skip_modules");

  static final String QUANTIZATION_ERROR = "4-bit/8-bit base weights (QLoRA, bitsandbytes) need quantized matmul "
      + "kernels that DJL's PyTorch engine does not have; train LoRA over float32 (or float16) base weights instead";

  /**
   * Keys PEFT writes for features this implementation does not have: accepted only at the value PEFT writes
   * when the feature is off (null, false, an empty object), otherwise an error naming the key.
   */
  private static final Set<String> OFF_ONLY_KEYS = Set.of("alora_invocation_tokens", "alpha_pattern", "arrow_config",
      "corda_config", "eva_config", "exclude_modules", "kasa_config", "layer_replication", "layers_pattern",
      "layers_to_transform", "loftq_config", "lora_bias", "lora_ga_config", "megatron_config",
      "monteclora_config", "rank_pattern", "target_parameters", "trainable_token_indices", "use_bdlora",
      "use_dora", "use_qalora", "velora_config", "ensure_weight_tying");

  /** Keys that only describe the file (read and ignored, or kept as they are). */
  private static final Set<String> DESCRIPTIVE_KEYS = Set.of("peft_version", "revision", "auto_mapping",
      "megatron_core", "qalora_group_size", "inference_mode");

  private static final Set<String> OWN_KEYS = Set.of("peft_type", "task_type", "r", "lora_alpha", "lora_dropout",
      "target_modules", "bias", "modules_to_save", "init_lora_weights", "use_rslora", "base_model_name_or_path",
      "fan_in_fan_out");

  private final int r;
  private final double loraAlpha;
  private final double loraDropout;
  private final List<String> targetModules;
  private final String targetModulesRegex;
  private final String bias;
  private final List<String> modulesToSave;
  private final String initLoraWeights;
  private final boolean useRslora;
  private final boolean fanInFanOut;
  private final String taskType;
  private final String baseModelNameOrPath;

  private LoraConfig(Builder b) {
    if (b.r <= 0) {
      throw new IllegalArgumentException("r must be a positive integer, got " + b.r);
    }
    if (b.loraDropout < 0 || b.loraDropout >= 1) {
      throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + b.loraDropout);
    }
    if (!List.of("none", "all", "lora_only").contains(b.bias)) {
      throw new IllegalArgumentException("bias must be one of none, all, lora_only; got '" + b.bias + "'");
    }
    if (!List.of("true", "false", "gaussian").contains(b.initLoraWeights)) {
      throw new IllegalArgumentException("init_lora_weights must be true, false or \"gaussian\"; got '"
          + b.initLoraWeights + "'");
    }
    if (b.targetModules != null && b.targetModulesRegex != null) {
      throw new IllegalArgumentException("target_modules is either a list of names or one regular expression");
    }
    if (b.targetModulesRegex != null) {
      Pattern.compile(b.targetModulesRegex); // fails early on a malformed expression
    }
    this.r = b.r;
    this.loraAlpha = b.loraAlpha;
    this.loraDropout = b.loraDropout;
    this.targetModules = b.targetModules == null ? null : List.copyOf(b.targetModules);
    this.targetModulesRegex = b.targetModulesRegex;
    this.bias = b.bias;
    this.modulesToSave = b.modulesToSave == null ? null : List.copyOf(b.modulesToSave);
    this.initLoraWeights = b.initLoraWeights;
    this.useRslora = b.useRslora;
    this.fanInFanOut = b.fanInFanOut;
    this.taskType = b.taskType;
    this.baseModelNameOrPath = b.baseModelNameOrPath;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this config's values. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.r = r;
    b.loraAlpha = loraAlpha;
    b.loraDropout = loraDropout;
    b.targetModules = targetModules;
    b.targetModulesRegex = targetModulesRegex;
    b.bias = bias;
    b.modulesToSave = modulesToSave;
    b.initLoraWeights = initLoraWeights;
    b.useRslora = useRslora;
    b.fanInFanOut = fanInFanOut;
    b.taskType = taskType;
    b.baseModelNameOrPath = baseModelNameOrPath;
    return b;
  }

  public int r() {
    return r;
  }

  public double loraAlpha() {
    return loraAlpha;
  }

  public double loraDropout() {
    return loraDropout;
  }

  /** The target names, or null when {@link #targetModulesRegex()} (or the model type's default) applies. */
  public List<String> targetModules() {
    return targetModules;
  }

  /** The regular expression target_modules, or null. */
  public String targetModulesRegex() {
    return targetModulesRegex;
  }

  /** none, all or lora_only: which biases are trained and saved with the adapter. */
  public String bias() {
    return bias;
  }

  /** Modules (by name, matched as target names are) trained in full and saved with the adapter; or null. */
  public List<String> modulesToSave() {
    return modulesToSave;
  }

  /** "true" (A Kaiming-uniform, B zeros), "false" (both as nn.Linear initialises them) or "gaussian". */
  public String initLoraWeights() {
    return initLoraWeights;
  }

  public boolean useRslora() {
    return useRslora;
  }

  /**
   * PEFT's fan_in_fan_out: the adapted layers store their weight [in, out] (GPT-2's Conv1D). Injection sets it
   * to the layers' layout, as PEFT does.
   */
  public boolean fanInFanOut() {
    return fanInFanOut;
  }

  public String taskType() {
    return taskType;
  }

  public String baseModelNameOrPath() {
    return baseModelNameOrPath;
  }

  /** The factor of the adapter's product: lora_alpha / r, or lora_alpha / √r with use_rslora. */
  public double scaling() {
    return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
  }

  /** Reads {@code folder/adapter_config.json}. */
  public static LoraConfig load(Path folder) throws IOException {
    Path file = folder.resolve(FILE_NAME);
    if (!Files.isRegularFile(file)) {
      throw new IOException("not a PEFT adapter folder: " + file + " is missing");
    }
    return fromJson(Files.readString(file, StandardCharsets.UTF_8));
  }

  /**
   * Parses adapter_config.json as PEFT writes it. Unknown keys, quantization settings, a peft_type other than
   * LORA and features this implementation lacks (DoRA, rank patterns, ...) are errors naming the key.
   */
  public static LoraConfig fromJson(String json) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("adapter config is not valid JSON: " + e.getMessage(), e);
    }
    return fromTree(root);
  }

  /**
   * The same keys as {@link #fromJson(String)} from a parsed map (a job file's section, say), with the same
   * checks and errors.
   */
  public static LoraConfig fromMap(Map<String, ?> values) {
    return fromTree(JSON.valueToTree(values));
  }

  private static LoraConfig fromTree(JsonNode root) {
    if (!(root instanceof ObjectNode obj)) {
      throw new IllegalArgumentException("adapter config must be a JSON object");
    }
    List<String> unknown = new ArrayList<>();
    for (Iterator<String> it = obj.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      JsonNode v = obj.get(key);
      if (QUANTIZATION_KEYS.contains(key) || key.startsWith("bnb_4bit_")) {
        throw new IllegalArgumentException(key + ": " + QUANTIZATION_ERROR);
      }
      if (OFF_ONLY_KEYS.contains(key)) {
        boolean off = v.isNull() || (v.isBoolean() && !v.asBoolean()) || (v.isObject() && v.isEmpty());
        if (!off) {
          throw new IllegalArgumentException(key + "=" + v + " is not supported by sparkformers' LoRA");
        }
      } else if (!OWN_KEYS.contains(key) && !DESCRIPTIVE_KEYS.contains(key)) {
        unknown.add(key);
      }
    }
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown LoraConfig key(s): " + String.join(", ", unknown));
    }
    JsonNode type = obj.get("peft_type");
    if (type != null && !type.isNull() && !type.asText().equals("LORA")) {
      throw new IllegalArgumentException("peft_type=" + type.asText() + ": only LORA adapters are supported");
    }
    Builder b = builder();
    if (has(obj, "r")) {
      b.r(obj.get("r").asInt());
    }
    if (has(obj, "lora_alpha")) {
      b.loraAlpha(obj.get("lora_alpha").asDouble());
    }
    if (has(obj, "lora_dropout")) {
      b.loraDropout(obj.get("lora_dropout").asDouble());
    }
    if (has(obj, "target_modules")) {
      JsonNode t = obj.get("target_modules");
      if (t.isTextual() && t.asText().equals("all-linear")) {
        b.targetModules("all-linear");
      } else if (t.isTextual()) {
        b.targetModulesRegex(t.asText());
      } else {
        b.targetModules(strings(t, "target_modules"));
      }
    }
    if (has(obj, "bias")) {
      b.bias(obj.get("bias").asText());
    }
    if (has(obj, "modules_to_save")) {
      b.modulesToSave(strings(obj.get("modules_to_save"), "modules_to_save"));
    }
    if (has(obj, "init_lora_weights")) {
      JsonNode i = obj.get("init_lora_weights");
      b.initLoraWeights(i.isBoolean() ? String.valueOf(i.asBoolean()) : i.asText());
    }
    if (has(obj, "use_rslora")) {
      b.useRslora(obj.get("use_rslora").asBoolean());
    }
    if (has(obj, "fan_in_fan_out")) {
      b.fanInFanOut(obj.get("fan_in_fan_out").asBoolean());
    }
    if (has(obj, "task_type")) {
      b.taskType(obj.get("task_type").asText());
    }
    if (has(obj, "base_model_name_or_path")) {
      b.baseModelNameOrPath(obj.get("base_model_name_or_path").asText());
    }
    return b.build();
  }

  private static boolean has(ObjectNode obj, String key) {
    return obj.has(key) && !obj.get(key).isNull();
  }

  private static List<String> strings(JsonNode node, String key) {
    if (!node.isArray()) {
      throw new IllegalArgumentException(key + " must be a list of names, got " + node);
    }
    List<String> out = new ArrayList<>();
    node.forEach(n -> out.add(n.asText()));
    return out;
  }

  /**
   * adapter_config.json as PEFT's save_pretrained writes it: every key PEFT writes, sorted, with
   * inference_mode true and the unused features at their off values.
   */
  public String toJson() {
    Map<String, Object> m = new TreeMap<>();
    for (String key : OFF_ONLY_KEYS) {
      m.put(key, null);
    }
    m.put("alpha_pattern", Map.of());
    m.put("rank_pattern", Map.of());
    m.put("loftq_config", Map.of());
    for (String key : List.of("ensure_weight_tying", "lora_bias", "use_dora", "use_qalora")) {
      m.put(key, false);
    }
    m.put("fan_in_fan_out", fanInFanOut);
    m.put("auto_mapping", null);
    m.put("revision", null);
    m.put("megatron_core", "megatron.core");
    m.put("qalora_group_size", 16);
    m.put("inference_mode", true);
    m.put("peft_version", PEFT_VERSION);
    m.put("peft_type", "LORA");
    m.put("task_type", taskType);
    m.put("base_model_name_or_path", baseModelNameOrPath);
    m.put("r", r);
    m.put("lora_alpha", loraAlpha == Math.rint(loraAlpha) ? (Object) (long) loraAlpha : loraAlpha);
    m.put("lora_dropout", loraDropout);
    m.put("target_modules", targetModulesRegex != null ? targetModulesRegex : targetModules);
    m.put("bias", bias);
    m.put("modules_to_save", modulesToSave);
    m.put("init_lora_weights", initLoraWeights.equals("gaussian") ? "gaussian" : Boolean.valueOf(initLoraWeights));
    m.put("use_rslora", useRslora);
    try {
      return JSON.writeValueAsString(m) + "\n";
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "LoraConfig" + toJson();
  }

  /** PEFT's defaults: r 8, lora_alpha 8, lora_dropout 0, bias none, init_lora_weights true. */
  public static final class Builder {
    private int r = 8;
    private double loraAlpha = 8;
    private double loraDropout = 0.0;
    private List<String> targetModules;
    private String targetModulesRegex;
    private String bias = "none";
    private List<String> modulesToSave;
    private String initLoraWeights = "true";
    private boolean useRslora;
    private boolean fanInFanOut;
    private String taskType;
    private String baseModelNameOrPath;

    private Builder() {}

    public Builder r(int r) {
      this.r = r;
      return this;
    }

    public Builder loraAlpha(double loraAlpha) {
      this.loraAlpha = loraAlpha;
      return this;
    }

    public Builder loraDropout(double loraDropout) {
      this.loraDropout = loraDropout;
      return this;
    }

    /** Target names (exact name or path suffix), or "all-linear" alone. */
    public Builder targetModules(List<String> names) {
      this.targetModules = names;
      this.targetModulesRegex = null;
      return this;
    }

    public Builder targetModules(String... names) {
      return targetModules(List.of(names));
    }

    /** One regular expression matched against the whole module path (re.fullmatch). */
    public Builder targetModulesRegex(String regex) {
      this.targetModulesRegex = regex;
      this.targetModules = null;
      return this;
    }

    public Builder bias(String bias) {
      this.bias = bias;
      return this;
    }

    public Builder modulesToSave(List<String> modulesToSave) {
      this.modulesToSave = modulesToSave;
      return this;
    }

    /** "true", "false" or "gaussian". */
    public Builder initLoraWeights(String initLoraWeights) {
      this.initLoraWeights = initLoraWeights;
      return this;
    }

    public Builder useRslora(boolean useRslora) {
      this.useRslora = useRslora;
      return this;
    }

    public Builder fanInFanOut(boolean fanInFanOut) {
      this.fanInFanOut = fanInFanOut;
      return this;
    }

    public Builder taskType(String taskType) {
      this.taskType = taskType;
      return this;
    }

    public Builder baseModelNameOrPath(String baseModelNameOrPath) {
      this.baseModelNameOrPath = baseModelNameOrPath;
      return this;
    }

    public LoraConfig build() {
      return new LoraConfig(this);
    }
  }
}
