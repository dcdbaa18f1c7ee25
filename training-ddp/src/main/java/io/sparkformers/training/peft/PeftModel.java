package io.sparkformers.training.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import io.sparkformers.training.internal.NoGrad;
import io.sparkformers.training.internal.Views;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.CausalLM;
import io.sparkformers.training.models.LoadReport;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.SafeTensorsFile;
import io.sparkformers.training.models.SafeTensorsWriter;
import io.sparkformers.training.models.SaveOptions;
import io.sparkformers.training.models.nn.LinearLayer;
import io.sparkformers.training.models.nn.Module;
import io.sparkformers.training.models.nn.Param;
import io.sparkformers.training.peft.internal.LoraLinear;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A model with LoRA adapters, as PEFT's {@code PeftModel}: the base model's weights are frozen (no gradient, no
 * optimizer state, nothing all-reduced), the adapters' are trained. Parameter names are PEFT's file keys
 * ({@code base_model.model.<path>}, without the in-memory adapter name {@code default}); what is trained is
 * what {@link #savePretrained} writes, as {@code adapter_config.json} + {@code adapter_model.safetensors}, so
 * the Trainer's checkpoints of a LoRA run hold the adapter and its optimizer state, not the base model.
 *
 * <p>Over a causal LM it is one too (generation runs base + adapter, as PEFT's {@code generate}); the
 * {@link CausalLM} methods fail over other models.
 */
public final class PeftModel implements CausalLM {

  /** The prefix PEFT puts before every module path in adapter files. */
  public static final String KEY_PREFIX = "base_model.model.";

  /** The adapter weights file PEFT writes. */
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";

  /** PEFT's default target_modules per model_type (its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
  private static final Map<String, List<String>> DEFAULT_TARGETS =
      Map.of("llama", List.of("q_proj", "v_proj"), "mistral", List.of("q_proj", "v_proj"),
          "qwen2", List.of("q_proj", "v_proj"), "gpt2", List.of("c_attn"));

  private final BaseModel base;
  private final LoraConfig config;
  private final Map<String, LoraLinear> adapters;
  private final Map<String, Param> saved;
  private boolean unloaded;

  private PeftModel(BaseModel base, LoraConfig config, Map<String, LoraLinear> adapters, Map<String, Param> saved) {
    this.base = base;
    this.config = config;
    this.adapters = adapters;
    this.saved = saved;
  }

  /**
   * Freezes {@code model} and adds fresh LoRA adapters (drawn from the engine's generator) to the linear
   * layers (Linear, Conv1D) {@code config} targets. Target names that match no module, and targets that are
   * neither, are errors naming them.
   */
  public static PeftModel inject(PreTrainedModel model, LoraConfig config) {
    if (!(model instanceof BaseModel base)) {
      throw new IllegalArgumentException("LoRA needs a model built from a module tree (AutoModel), got "
          + (model == null ? "null" : model.getClass().getName()));
    }
    Map<String, Module> modules = base.namedModules();
    for (Module m : modules.values()) {
      if (m instanceof LinearLayer l && l.adapter() != null) {
        throw new IllegalStateException("the model already has LoRA adapters");
      }
    }
    List<String> targets = targetPaths(base, modules, config);
    if (config.targetModulesRegex() == null
        && (config.targetModules() == null || config.targetModules().equals(List.of("all-linear")))) {
      // As PEFT, the config keeps the names the default or all-linear resolved to, so a loader finds them.
      config = config.toBuilder().targetModules(targets.stream().map(p -> p.substring(p.lastIndexOf('.') + 1))
          .distinct().sorted().toList()).build();
    }
    // PEFT sets fan_in_fan_out to the layout of each layer it adapts (true for Conv1D, false for Linear,
    // warning when the config said otherwise), so the saved config holds the last target's layout.
    boolean transposed = ((LinearLayer) modules.get(targets.get(targets.size() - 1))).weightIsTransposed();
    if (config.fanInFanOut() != transposed) {
      config = config.toBuilder().fanInFanOut(transposed).build();
    }
    base.setTrainable(false);
    Map<String, LoraLinear> adapters = new LinkedHashMap<>();
    for (String path : targets) {
      LinearLayer linear = (LinearLayer) modules.get(path);
      LoraLinear lora = new LoraLinear(linear, config.r(), config.scaling(), config.loraDropout(),
          config.initLoraWeights());
      linear.attachAdapter(lora);
      lora.modules().forEach((name, child) ->
          child.createParameters(base.manager(), Map.of(), path + "." + name));
      adapters.put(path, lora);
    }
    // What is trained and saved besides lora_A/lora_B: biases (bias=all / lora_only) and modules_to_save.
    Set<String> extra = new LinkedHashSet<>();
    Map<String, Param> declared = base.declaredParameters();
    for (String name : declared.keySet()) {
      boolean isBias = name.equals("bias") || name.endsWith(".bias");
      String owner = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : "";
      if (isBias && (config.bias().equals("all") || (config.bias().equals("lora_only") && adapters.containsKey(owner)))) {
        extra.add(name);
      }
    }
    if (config.modulesToSave() != null) {
      List<String> unmatched = new ArrayList<>();
      for (String target : config.modulesToSave()) {
        List<String> hits = modules.keySet().stream().filter(p -> matchesName(p, target)).toList();
        if (hits.isEmpty()) {
          unmatched.add(target);
        }
        for (String hit : hits) {
          modules.get(hit).declaredParameters().keySet().forEach(n -> extra.add(hit + "." + n));
        }
      }
      if (!unmatched.isEmpty()) {
        throw new IllegalArgumentException("modules_to_save " + unmatched + " match no module of the "
            + base.modelType() + " model");
      }
    }
    extra.forEach(name -> declared.get(name).setTrainable(true));
    Map<String, Param> saved = new LinkedHashMap<>();
    base.declaredParameters().forEach((name, p) -> {
      if (p.trainable()) {
        saved.put(name, p);
      }
    });
    return new PeftModel(base, config, adapters, saved);
  }

  /** The paths of the linear layers (Linear, Conv1D) {@code config} targets, in module order. */
  private static List<String> targetPaths(BaseModel base, Map<String, Module> modules, LoraConfig config) {
    List<String> out = new ArrayList<>();
    if (config.targetModulesRegex() != null) {
      Pattern p = Pattern.compile(config.targetModulesRegex());
      for (String path : modules.keySet()) {
        if (p.matcher(path).matches()) {
          out.add(path);
        }
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException("target_modules '" + config.targetModulesRegex()
            + "' matches no module of the " + base.modelType() + " model");
      }
    } else {
      List<String> names = config.targetModules();
      if (names == null) {
        names = DEFAULT_TARGETS.get(base.modelType());
        if (names == null) {
          throw new IllegalArgumentException("target_modules must be given for model_type " + base.modelType());
        }
      }
      if (names.equals(List.of("all-linear"))) {
        for (Map.Entry<String, Module> e : modules.entrySet()) {
          // PEFT leaves the output layer out of all-linear.
          if (e.getValue() instanceof LinearLayer && !e.getKey().equals("lm_head")) {
            out.add(e.getKey());
          }
        }
        return out;
      }
      List<String> unmatched = new ArrayList<>();
      for (String name : names) {
        boolean hit = false;
        for (String path : modules.keySet()) {
          if (matchesName(path, name)) {
            hit = true;
            if (!out.contains(path)) {
              out.add(path);
            }
          }
        }
        if (!hit) {
          unmatched.add(name);
        }
      }
      if (!unmatched.isEmpty()) {
        throw new IllegalArgumentException("target_modules " + unmatched + " match no module of the "
            + base.modelType() + " model");
      }
      out.sort(java.util.Comparator.comparingInt(new ArrayList<>(modules.keySet())::indexOf));
    }
    for (String path : out) {
      if (!(modules.get(path) instanceof LinearLayer)) {
        throw new IllegalArgumentException("target module " + path + " is a "
            + modules.get(path).getClass().getSimpleName() + "; LoRA adapts Linear and Conv1D layers only");
      }
    }
    return out;
  }

  /** PEFT's name match: the path is the name, or ends with "." + name. */
  private static boolean matchesName(String path, String name) {
    return path.equals(name) || path.endsWith("." + name);
  }

  /**
   * Loads {@code model} + the adapter PEFT (or {@link #savePretrained}) wrote in {@code adapterFolder}. Keys of
   * the file that name no adapter parameter, and adapter parameters missing from it, are errors.
   */
  public static PeftModel fromPretrained(PreTrainedModel model, Path adapterFolder) throws IOException {
    LoraConfig config = LoraConfig.load(adapterFolder);
    PeftModel peft = inject(model, config);
    peft.loadAdapterWeights(adapterFolder);
    return peft;
  }

  /** Overwrites the adapter's parameters with {@code folder/adapter_model.safetensors}. */
  public void loadAdapterWeights(Path folder) throws IOException {
    checkLoaded();
    Path file = folder.resolve(WEIGHTS_FILE);
    try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
      List<String> unexpected = new ArrayList<>();
      for (String key : f.names()) {
        String path = key.startsWith(KEY_PREFIX) ? key.substring(KEY_PREFIX.length()) : null;
        if (path == null || !saved.containsKey(path)) {
          unexpected.add(key);
        }
      }
      if (!unexpected.isEmpty()) {
        throw new IllegalArgumentException(file + " holds keys that are no parameter of this adapter: " + unexpected);
      }
      List<String> missing = new ArrayList<>();
      for (String path : saved.keySet()) {
        if (!f.names().contains(KEY_PREFIX + path)) {
          missing.add(KEY_PREFIX + path);
        }
      }
      if (!missing.isEmpty()) {
        throw new IllegalArgumentException(file + " lacks adapter parameters: " + missing);
      }
      for (Map.Entry<String, Param> e : saved.entrySet()) {
        Views.copyInto(f, KEY_PREFIX + e.getKey(), e.getValue().array());
      }
    }
  }

  /** The LoRA config. */
  public LoraConfig loraConfig() {
    return config;
  }

  /** The base model (frozen, with the adapters in its tree). */
  public PreTrainedModel baseModel() {
    return base;
  }

  /** The adapted layers by module path. */
  public Map<String, LoraLinear> adapters() {
    return Collections.unmodifiableMap(adapters);
  }

  /** Writes adapter_config.json + adapter_model.safetensors (float32) into {@code folder}, as PEFT does. */
  public void saveAdapter(Path folder) throws IOException {
    saveAdapter(folder, DataType.FLOAT32);
  }

  private void saveAdapter(Path folder, DataType floatType) throws IOException {
    checkLoaded();
    Files.createDirectories(folder);
    Files.writeString(folder.resolve(LoraConfig.FILE_NAME), config.toJson(), StandardCharsets.UTF_8);
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    saved.forEach((path, p) -> tensors.put(KEY_PREFIX + path, p.array()));
    SafeTensorsWriter.write(folder.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"), floatType);
  }

  /**
   * Adds B·A·scaling into each adapted base weight, removes the adapters and returns the base model, all of
   * whose parameters are trainable again (a plain model, as AutoModel loads it). This PeftModel is unusable
   * afterwards.
   */
  public PreTrainedModel mergeAndUnload() {
    checkLoaded();
    try (NoGrad ignored = new NoGrad()) { // an in-place update of weights, recorded by no graph
      for (LoraLinear lora : adapters.values()) {
        lora.mergeIntoBase();
        lora.base().detachAdapter();
        lora.loraA().weight().array().close();
        lora.loraB().weight().array().close();
      }
    }
    base.setTrainable(true);
    unloaded = true;
    return base;
  }

  private void checkLoaded() {
    if (unloaded) {
      throw new IllegalStateException("the adapters were merged and unloaded");
    }
  }

  @Override
  public String modelType() {
    return base.modelType();
  }

  @Override
  public NDManager manager() {
    return base.manager();
  }

  /** Every parameter (base and adapter) under PEFT's key: base_model.model.<path>. */
  @Override
  public Map<String, Parameter> namedParameters() {
    checkLoaded();
    Map<String, Parameter> out = new LinkedHashMap<>();
    base.namedParameters().forEach((name, p) -> out.put(KEY_PREFIX + name, p));
    return Collections.unmodifiableMap(out);
  }

  /** The adapter's parameters (and trained biases / modules_to_save), under their file keys. */
  @Override
  public Map<String, Parameter> trainableParameters() {
    checkLoaded();
    Map<String, Parameter> out = new LinkedHashMap<>();
    saved.forEach((name, p) -> out.put(KEY_PREFIX + name, p.parameter()));
    return Collections.unmodifiableMap(out);
  }

  @Override
  public List<String> inputColumns() {
    return base.inputColumns();
  }

  @Override
  public ModelOutput forward(Map<String, NDArray> inputs, boolean training) {
    checkLoaded();
    adapters.values().forEach(a -> a.setTraining(training));
    return base.forward(inputs, training);
  }

  /** Writes the adapter (not the base model), as PEFT's save_pretrained does. */
  @Override
  public void savePretrained(Path folder) throws IOException {
    saveAdapter(folder, DataType.FLOAT32);
  }

  @Override
  public void savePretrained(Path folder, DataType floatType) throws IOException {
    saveAdapter(folder, floatType);
  }

  @Override
  public void savePretrained(Path folder, SaveOptions options) throws IOException {
    saveAdapter(folder, options.floatType());
  }

  @Override
  public ModelConfig config() {
    return base.config();
  }

  @Override
  public LoadReport loadReport() {
    return base.loadReport();
  }

  @Override
  public void close() {
    base.close();
  }
  private CausalLM causalLm() {
    checkLoaded();
    if (!(base instanceof CausalLM lm)) {
      throw new IllegalStateException("the base model (model_type " + base.modelType() + ") is not a causal LM");
    }
    return lm;
  }

  @Override
  public KvCache newCache() {
    return causalLm().newCache();
  }

  @Override
  public NDArray forward(NDArray ids, NDArray attentionMask, NDArray positionIds, NDArray tokenTypeIds,
      KvCache cache, boolean training) {
    CausalLM lm = causalLm();
    adapters.values().forEach(a -> a.setTraining(training));
    return lm.forward(ids, attentionMask, positionIds, tokenTypeIds, cache, training);
  }

  @Override
  public List<Integer> eosTokenIds() {
    return causalLm().eosTokenIds();
  }

  @Override
  public Integer padTokenId() {
    return causalLm().padTokenId();
  }
}
