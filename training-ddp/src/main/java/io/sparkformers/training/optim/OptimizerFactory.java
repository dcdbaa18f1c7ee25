package io.sparkformers.training.optim;

import ai.djl.nn.Parameter;
import io.sparkformers.training.OptimizerNames;
import io.sparkformers.training.TrainingArguments;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The one place that turns {@code optim} and its arguments into an optimizer, and a model's trainable
 * parameters into parameter groups (transformers' {@code Trainer.create_optimizer} with
 * {@code get_decay_parameter_names} and {@code get_optimizer_cls_and_kwargs}).
 */
public final class OptimizerFactory {
  /** The SGD arguments {@code optim_args} may set, as torch.optim.SGD names them. */
  private static final List<String> SGD_ARGS = List.of("momentum", "dampening", "nesterov");

  private OptimizerFactory() {}

  /**
   * The parameters in the given order, each marked with whether weight decay applies: transformers decays
   * every weight but biases and normalisation (LayerNorm, RMSNorm) weights.
   */
  public static List<Param> parameterGroups(Map<String, Parameter> trainable) {
    List<Param> params = new ArrayList<>(trainable.size());
    trainable.forEach((name, p) -> params.add(new Param(name, p.getArray(), decays(name))));
    return params;
  }

  /** transformers' rule, judged by the parameter's name: no decay for biases and norm weights. */
  public static boolean decays(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    if (n.endsWith("bias")) {
      return false;
    }
    for (String part : n.split("\\.")) {
      if (part.startsWith("ln") || part.contains("layernorm") || part.contains("layer_norm")
          || part.contains("rmsnorm") || part.equals("norm") || part.startsWith("norm")) {
        return false;
      }
    }
    return true;
  }

  /** The optimizer {@code args.optim()} names, over {@code params}, configured from {@code args}. */
  public static Optimizer create(TrainingArguments args, List<Param> params) {
    if (args.optim() == OptimizerNames.SGD) {
      Map<String, String> o = parseOptimArgs(args.optimArgs());
      double momentum = number(o, "momentum");
      double dampening = number(o, "dampening");
      boolean nesterov = Boolean.parseBoolean(o.getOrDefault("nesterov", "false").toLowerCase(Locale.ROOT));
      return new Sgd(params, momentum, dampening, args.weightDecay(), nesterov);
    }
    if (args.optimArgs() != null && !args.optimArgs().isBlank()) {
      throw new IllegalArgumentException("optim_args '" + args.optimArgs() + "': " + args.optim().value()
          + " takes no optim_args (its settings are adam_beta1, adam_beta2, adam_epsilon and weight_decay)");
    }
    return new AdamW(params, args.adamBeta1(), args.adamBeta2(), args.adamEpsilon(), args.weightDecay());
  }

  private static double number(Map<String, String> o, String key) {
    String v = o.getOrDefault(key, "0");
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("optim_args: " + key + " must be a number, got '" + v + "'");
    }
  }

  /** transformers' {@code optim_args}: {@code "momentum=0.9,nesterov=True"}. */
  static Map<String, String> parseOptimArgs(String s) {
    Map<String, String> m = new LinkedHashMap<>();
    if (s == null || s.isBlank()) {
      return m;
    }
    for (String part : s.split(",")) {
      String[] kv = part.split("=", 2);
      if (kv.length != 2) {
        throw new IllegalArgumentException("optim_args: expected key=value, got '" + part + "'");
      }
      String key = kv[0].trim();
      if (!SGD_ARGS.contains(key)) {
        throw new IllegalArgumentException("optim_args: unknown SGD argument '" + key + "' (valid: "
            + String.join(", ", SGD_ARGS) + ")");
      }
      m.put(key, kv[1].trim());
    }
    return m;
  }
}
