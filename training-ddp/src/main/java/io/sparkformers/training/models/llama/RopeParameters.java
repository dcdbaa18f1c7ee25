package io.sparkformers.training.models.llama;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.internal.ConfigReader;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Rotary position embeddings as transformers' {@code ROPE_INIT_FUNCTIONS} computes their inverse frequencies:
 * {@code default}, {@code linear} ({@code factor}) and {@code llama3} ({@code factor}, {@code low_freq_factor},
 * {@code high_freq_factor}, {@code original_max_position_embeddings}); all three have attention scaling 1.
 * Values not used by a type are null.
 */
public record RopeParameters(String type, double theta, Double factor, Double lowFreqFactor, Double highFreqFactor,
    Integer originalMaxPositionEmbeddings) {

  public static final List<String> TYPES = List.of("default", "linear", "llama3");

  /** Plain rotary embeddings with base {@code theta}. */
  public static RopeParameters standard(double theta) {
    return new RopeParameters("default", theta, null, null, null, null);
  }

  /** transformers' linear scaling: positions divided by {@code factor}. */
  public static RopeParameters linear(double theta, double factor) {
    return new RopeParameters("linear", theta, factor, null, null, null);
  }

  /** Llama 3.1's frequency-dependent scaling. */
  public static RopeParameters llama3(double theta, double factor, double lowFreqFactor, double highFreqFactor,
      int originalMaxPositionEmbeddings) {
    return new RopeParameters("llama3", theta, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings);
  }

  /**
   * Reads a rope object ({@code rope_scaling} of the classic layout, or transformers 5's {@code rope_parameters})
   * named {@code key} in errors; {@code theta} is used where the object has no {@code rope_theta}. An unknown
   * {@code rope_type}, a missing value of a known type or a key the type does not use is an error naming it.
   */
  static RopeParameters read(String source, String key, JsonObject o, double theta) {
    String type = null;
    for (String typeKey : new String[] {"rope_type", "type"}) {
      JsonElement e = o.get(typeKey);
      if (e == null || e.isJsonNull()) {
        continue;
      }
      if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
        throw new IllegalArgumentException(source + ": key '" + key + "." + typeKey + "' must be a string, found " + e);
      }
      if (type != null && !type.equals(e.getAsString())) {
        throw new IllegalArgumentException(source + ": keys '" + key + ".rope_type' and '" + key + ".type' disagree: '"
            + type + "' and '" + e.getAsString() + "'");
      }
      type = e.getAsString();
    }
    if (type == null) {
      type = "default";
    }
    if (!TYPES.contains(type)) {
      throw new IllegalArgumentException(source + ": key '" + key + ".rope_type' is '" + type
          + "', expected one of " + TYPES);
    }
    List<String> scalingKeys = switch (type) {
      case "default" -> List.of();
      case "linear" -> List.of("factor");
      default -> List.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings");
    };
    Set<String> allowed = new LinkedHashSet<>(List.of("rope_type", "type", "rope_theta"));
    allowed.addAll(scalingKeys);
    for (String k : o.keySet()) {
      if (!allowed.contains(k)) {
        throw new IllegalArgumentException(source + ": key '" + key + "." + k + "' is not supported for rope_type '"
            + type + "' (supported: " + String.join(", ", allowed) + ")");
      }
    }
    if (o.has("rope_theta") && !o.get("rope_theta").isJsonNull()) {
      theta = number(source, key, o, "rope_theta");
    }
    double[] v = new double[scalingKeys.size()];
    for (int i = 0; i < v.length; i++) {
      String k = scalingKeys.get(i);
      if (!o.has(k) || o.get(k).isJsonNull()) {
        throw new IllegalArgumentException(source + ": missing required key '" + key + "." + k + "' (rope_type '"
            + type + "')");
      }
      v[i] = number(source, key, o, k);
    }
    RopeParameters rope = switch (type) {
      case "default" -> standard(theta);
      case "linear" -> linear(theta, v[0]);
      default -> llama3(theta, v[0], v[1], v[2], (int) v[3]);
    };
    if (rope.factor != null && !(rope.factor > 0)) {
      throw new IllegalArgumentException(source + ": key '" + key + ".factor' must be positive, found " + rope.factor);
    }
    if (rope.lowFreqFactor != null && !(rope.highFreqFactor > rope.lowFreqFactor)) {
      throw new IllegalArgumentException(source + ": key '" + key + ".high_freq_factor' (" + rope.highFreqFactor
          + ") must be greater than low_freq_factor (" + rope.lowFreqFactor + ")");
    }
    return rope;
  }

  private static double number(String source, String key, JsonObject o, String name) {
    JsonElement e = o.get(name);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new IllegalArgumentException(source + ": key '" + key + "." + name + "' must be a number, found " + e);
    }
    return e.getAsDouble();
  }

  /** The object as transformers 5 writes it in {@code rope_parameters} (with {@code rope_theta}). */
  JsonObject toJson(boolean withTheta) {
    JsonObject o = new JsonObject();
    if (factor != null) {
      o.addProperty("factor", factor);
    }
    if (highFreqFactor != null) {
      o.addProperty("high_freq_factor", highFreqFactor);
      o.addProperty("low_freq_factor", lowFreqFactor);
      o.addProperty("original_max_position_embeddings", originalMaxPositionEmbeddings);
    }
    if (withTheta) {
      o.add("rope_theta", ConfigReader.number(theta));
    }
    o.addProperty("rope_type", type);
    return o;
  }

  /**
   * The inverse frequencies [headDim / 2], in float32 step by step as transformers computes them with torch
   * (so that the llama3 thresholds fall on the same side): {@code 1 / theta^(2i/dim)}, then the type's scaling.
   */
  public float[] inverseFrequencies(int headDim) {
    int half = headDim / 2;
    float[] inv = new float[half];
    float base = (float) theta;
    for (int i = 0; i < half; i++) {
      // _compute_default_rope_parameters: 1.0 / (base ** (arange(0, dim, 2).float() / dim))
      float exponent = (float) (2 * i) / (float) headDim;
      inv[i] = 1f / (float) Math.pow(base, exponent);
    }
    switch (type) {
      case "linear" -> {
        // _compute_linear_scaling_rope_parameters: inv_freq /= factor
        float f = (float) (double) factor;
        for (int i = 0; i < half; i++) {
          inv[i] = inv[i] / f;
        }
      }
      case "llama3" -> {
        // _compute_llama3_parameters. Python scalars meet float32 tensors, so each enters as a float32; a
        // scalar divided by a tensor is torch's reciprocal(tensor) * scalar.
        double oldContextLen = originalMaxPositionEmbeddings;
        float lowFreqWavelen = (float) (oldContextLen / lowFreqFactor);
        float highFreqWavelen = (float) (oldContextLen / highFreqFactor);
        float f = (float) (double) factor;
        float low = (float) (double) lowFreqFactor;
        float span = (float) (highFreqFactor - lowFreqFactor);
        for (int i = 0; i < half; i++) {
          float wavelen = (1f / inv[i]) * (float) (2 * Math.PI);
          float scaled = wavelen > lowFreqWavelen ? inv[i] / f : inv[i];
          float smooth = ((1f / wavelen) * (float) oldContextLen - low) / span;
          float smoothed = (1f - smooth) * scaled / f + smooth * scaled;
          boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
          inv[i] = medium ? smoothed : scaled;
        }
      }
      default -> { }
    }
    return inv;
  }
}
