package io.sparkformers.datasets;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The data collators of Hugging Face transformers: {@code default_data_collator},
 * {@code DataCollatorWithPadding}, {@code DataCollatorForLanguageModeling} and {@code DataCollatorForSeq2Seq}.
 * Integer values become int64 arrays (torch.long), floating ones float32; string columns are left out.
 */
public final class Collators {
  /** Padding value of labels: positions the loss ignores. */
  public static final int IGNORE_INDEX = -100;

  private static final Set<String> LABEL_NAMES = Set.of("label", "label_ids", "labels");

  private Collators() {}

  /**
   * {@code default_data_collator}: stacks every numeric column (lists must have equal lengths); "label" and
   * "label_ids" become "labels".
   */
  public static DataCollator defaultCollator() {
    return (examples, manager) -> {
      Map<String, NDArray> out = new LinkedHashMap<>();
      for (String key : examples.get(0).keySet()) {
        Object first = examples.get(0).get(key);
        if (first == null || first instanceof String) {
          continue;
        }
        String name = LABEL_NAMES.contains(key) ? "labels" : key;
        out.put(name, stack(examples, key, manager));
      }
      return out;
    };
  }

  /**
   * {@code DataCollatorWithPadding}: pads {@code input_ids} (pad token), {@code attention_mask} (0, created
   * when missing), {@code token_type_ids} (0) and {@code special_tokens_mask} (1) to the batch's longest
   * sequence, rounded up to {@code padToMultipleOf}; other numeric columns are stacked.
   */
  public static DataCollator withPadding(Padding padding) {
    return (examples, manager) -> padInputs(examples, padding, manager, Set.of());
  }

  /**
   * {@code DataCollatorForSeq2Seq}: pads {@code labels} with −100 to the longest label sequence (same side and
   * multiple), then pads the inputs as {@link #withPadding} does.
   */
  public static DataCollator forSeq2Seq(Padding padding) {
    return (examples, manager) -> {
      Map<String, NDArray> out = padInputs(examples, padding, manager, Set.of("labels"));
      List<long[]> labels = sequences(examples, "labels");
      int length = padding.paddedLength(longest(labels));
      out.put("labels", padded(labels, length, IGNORE_INDEX, padding.side(), manager));
      return out;
    };
  }

  /**
   * {@code DataCollatorForLanguageModeling(mlm=False)}: pads the inputs; labels are a copy of
   * {@code input_ids} with every pad-token position (which includes EOS when pad = EOS, as in transformers)
   * set to −100.
   */
  public static DataCollator forCausalLanguageModeling(Padding padding) {
    return (examples, manager) -> {
      Map<String, NDArray> out = padInputs(examples, padding, manager, Set.of("labels"));
      long[] ids = out.get("input_ids").toLongArray();
      long[] labels = new long[ids.length];
      for (int i = 0; i < ids.length; i++) {
        labels[i] = ids[i] == padding.padTokenId() ? IGNORE_INDEX : ids[i];
      }
      out.put("labels", manager.create(labels, out.get("input_ids").getShape()));
      return out;
    };
  }

  /**
   * {@code DataCollatorForLanguageModeling(mlm=True)}: each non-special token is chosen with probability
   * {@code mlmProbability} (0.15); of those, 80% become the mask token, 10% a random token of the vocabulary,
   * 10% stay; labels are the original ids at chosen positions and −100 elsewhere. The draws come from a
   * seeded generator of ours (batches are reproducible per seed, but not equal to torch's draws).
   */
  public static DataCollator forMaskedLanguageModeling(Padding padding, int maskTokenId, int vocabSize,
      Set<Integer> specialTokenIds, double mlmProbability, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    return (examples, manager) -> {
      Map<String, NDArray> out = padInputs(examples, padding, manager, Set.of("labels", "special_tokens_mask"));
      NDArray idsArray = out.get("input_ids");
      long[] ids = idsArray.toLongArray();
      long[] labels = new long[ids.length];
      synchronized (random) {
        for (int i = 0; i < ids.length; i++) {
          boolean special = specialTokenIds.contains((int) ids[i]) || ids[i] == padding.padTokenId();
          boolean chosen = !special && random.nextDouble() < mlmProbability;
          labels[i] = chosen ? ids[i] : IGNORE_INDEX;
          if (!chosen) {
            continue;
          }
          double r = random.nextDouble();
          if (r < 0.8) {
            ids[i] = maskTokenId;
          } else if (r < 0.9) {
            ids[i] = random.nextInt(vocabSize);
          }
        }
      }
      Shape shape = idsArray.getShape();
      out.put("input_ids", manager.create(ids, shape));
      out.put("labels", manager.create(labels, shape));
      return out;
    };
  }

  private static Map<String, NDArray> padInputs(List<Map<String, Object>> examples, Padding padding,
      NDManager manager, Set<String> handledElsewhere) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    if (!examples.get(0).containsKey("input_ids")) {
      throw new IllegalArgumentException("Examples have no 'input_ids' column to pad; columns are "
          + examples.get(0).keySet());
    }
    List<long[]> ids = sequences(examples, "input_ids");
    int length = padding.paddedLength(longest(ids));
    out.put("input_ids", padded(ids, length, padding.padTokenId(), padding.side(), manager));
    List<long[]> mask;
    if (examples.get(0).containsKey("attention_mask")) {
      mask = sequences(examples, "attention_mask");
    } else {
      mask = new ArrayList<>();
      for (long[] s : ids) {
        long[] ones = new long[s.length];
        java.util.Arrays.fill(ones, 1);
        mask.add(ones);
      }
    }
    out.put("attention_mask", padded(mask, length, 0, padding.side(), manager));
    if (examples.get(0).containsKey("token_type_ids")) {
      out.put("token_type_ids", padded(sequences(examples, "token_type_ids"), length, 0, padding.side(), manager));
    }
    if (examples.get(0).containsKey("special_tokens_mask") && !handledElsewhere.contains("special_tokens_mask")) {
      out.put("special_tokens_mask", padded(sequences(examples, "special_tokens_mask"), length, 1, padding.side(),
          manager));
    }
    for (String key : examples.get(0).keySet()) {
      if (out.containsKey(key) || handledElsewhere.contains(key) || key.equals("special_tokens_mask")) {
        continue;
      }
      Object first = examples.get(0).get(key);
      if (first == null || first instanceof String) {
        continue;
      }
      out.put(LABEL_NAMES.contains(key) ? "labels" : key, stack(examples, key, manager));
    }
    return out;
  }

  private static List<long[]> sequences(List<Map<String, Object>> examples, String key) {
    List<long[]> out = new ArrayList<>(examples.size());
    for (int i = 0; i < examples.size(); i++) {
      Object v = examples.get(i).get(key);
      long[] s = toLongs(v);
      if (s == null) {
        throw new IllegalArgumentException("Example " + i + " of the batch: column '" + key
            + "' should be a list of integers, got " + (v == null ? "null" : v.getClass().getSimpleName()));
      }
      out.add(s);
    }
    return out;
  }

  private static long[] toLongs(Object v) {
    if (v instanceof int[]) {
      int[] a = (int[]) v;
      long[] out = new long[a.length];
      for (int i = 0; i < a.length; i++) {
        out[i] = a[i];
      }
      return out;
    }
    if (v instanceof long[]) {
      return (long[]) v;
    }
    if (v instanceof List) {
      List<?> l = (List<?>) v;
      long[] out = new long[l.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = ((Number) l.get(i)).longValue();
      }
      return out;
    }
    return null;
  }

  private static int longest(List<long[]> seqs) {
    int max = 0;
    for (long[] s : seqs) {
      max = Math.max(max, s.length);
    }
    return max;
  }

  private static NDArray padded(List<long[]> seqs, int length, long value, Padding.Side side, NDManager manager) {
    long[] flat = new long[seqs.size() * length];
    for (int r = 0; r < seqs.size(); r++) {
      long[] s = seqs.get(r);
      int pad = length - s.length;
      int at = r * length;
      if (side == Padding.Side.LEFT) {
        java.util.Arrays.fill(flat, at, at + pad, value);
        System.arraycopy(s, 0, flat, at + pad, s.length);
      } else {
        System.arraycopy(s, 0, flat, at, s.length);
        java.util.Arrays.fill(flat, at + s.length, at + length, value);
      }
    }
    return manager.create(flat, new Shape(seqs.size(), length));
  }

  /** Stacks one numeric column: scalars to shape (B), equal-length lists to (B, T). */
  private static NDArray stack(List<Map<String, Object>> examples, String key, NDManager manager) {
    Object first = examples.get(0).get(key);
    int b = examples.size();
    if (first instanceof Integer || first instanceof Long || first instanceof Boolean) {
      long[] out = new long[b];
      for (int i = 0; i < b; i++) {
        Object v = require(examples, i, key);
        out[i] = v instanceof Boolean ? ((Boolean) v ? 1 : 0) : ((Number) v).longValue();
      }
      return manager.create(out);
    }
    if (first instanceof Float || first instanceof Double) {
      float[] out = new float[b];
      for (int i = 0; i < b; i++) {
        out[i] = ((Number) require(examples, i, key)).floatValue();
      }
      return manager.create(out);
    }
    if (first instanceof float[] || first instanceof double[]) {
      int t = java.lang.reflect.Array.getLength(first);
      float[] out = new float[b * t];
      for (int i = 0; i < b; i++) {
        Object v = require(examples, i, key);
        int len = java.lang.reflect.Array.getLength(v);
        if (len != t) {
          throw unequal(key, i, len, t);
        }
        for (int k = 0; k < t; k++) {
          out[i * t + k] = ((Number) java.lang.reflect.Array.get(v, k)).floatValue();
        }
      }
      return manager.create(out, new Shape(b, t));
    }
    List<long[]> seqs = sequences(examples, key);
    int t = seqs.get(0).length;
    long[] out = new long[b * t];
    for (int i = 0; i < b; i++) {
      if (seqs.get(i).length != t) {
        throw unequal(key, i, seqs.get(i).length, t);
      }
      System.arraycopy(seqs.get(i), 0, out, i * t, t);
    }
    return manager.create(out, new Shape(b, t));
  }

  private static Object require(List<Map<String, Object>> examples, int i, String key) {
    Object v = examples.get(i).get(key);
    if (v == null) {
      throw new IllegalArgumentException("Example " + i + " of the batch: column '" + key + "' is null");
    }
    return v;
  }

  private static IllegalArgumentException unequal(String key, int i, int len, int expected) {
    return new IllegalArgumentException("Example " + i + " of the batch: column '" + key + "' has " + len
        + " values, example 0 has " + expected + ": use a padding collator for sequences of different lengths");
  }
}
