package io.sparkformers.evaluate;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Accuracy, precision, recall and F-beta as scikit-learn 1.2.1 computes them ({@code accuracy_score},
 * {@code precision_recall_fscore_support}), from per-label counts (true positives, predicted, true) that merge
 * by addition. Labels are integers ({@code Long}; integral floats and booleans become integers) or strings,
 * never a mix. {@code zero_division} "nan" follows scikit-learn 1.3+: ill-defined values are NaN and averages
 * skip them.
 */
public final class Classification implements Serializable {
  private static final long serialVersionUID = 1L;
  private final Options options;

  public Classification() {
    this(Options.builder().build());
  }

  public Classification(Options options) {
    this.options = Objects.requireNonNull(options);
  }

  public Options options() {
    return options;
  }

  public Stats newState() {
    return new Stats();
  }

  /** Adds one (prediction, reference) pair. */
  public void add(Stats s, Object prediction, Object reference) {
    Object p = label(prediction, "prediction");
    Object r = label(reference, "reference");
    s.checkKind(p, "prediction");
    s.checkKind(r, "reference");
    s.counts.computeIfAbsent(p, k -> new long[3])[1]++;
    s.counts.computeIfAbsent(r, k -> new long[3])[2]++;
    if (p.equals(r)) {
      s.counts.get(p)[0]++;
      s.correct++;
    }
    s.n++;
  }

  public Stats merge(Stats into, Stats o) {
    if (into.kind != null && o.kind != null && !into.kind.equals(o.kind)) {
      throw new InvalidInputException("Mix of label input types (string and number): " + into.kind + " labels and "
          + o.kind + " labels");
    }
    if (into.kind == null) {
      into.kind = o.kind;
    }
    for (Map.Entry<Object, long[]> e : o.counts.entrySet()) {
      long[] c = into.counts.computeIfAbsent(e.getKey(), k -> new long[3]);
      for (int i = 0; i < 3; i++) {
        c[i] += e.getValue()[i];
      }
    }
    into.n += o.n;
    into.correct += o.correct;
    return into;
  }

  /** Normalises a label: integers to Long, strings as they are. */
  public static Object label(Object x, String what) {
    if (x == null) {
      throw new InvalidInputException(what + " is null; expected an integer or string label");
    }
    if (x instanceof String) {
      return x;
    }
    if (x instanceof Long || x instanceof Integer || x instanceof Short || x instanceof Byte) {
      return ((Number) x).longValue();
    }
    if (x instanceof Boolean) {
      return ((Boolean) x) ? 1L : 0L;
    }
    if (x instanceof Double || x instanceof Float || x instanceof java.math.BigDecimal) {
      double d = ((Number) x).doubleValue();
      if (d == Math.rint(d) && !Double.isInfinite(d) && Math.abs(d) < 9e15) {
        return (long) d;
      }
      throw new InvalidInputException(what + " " + x + " is not a class label: scikit-learn raises ValueError "
          + "(Classification metrics can't handle continuous targets)");
    }
    throw new InvalidInputException(what + " has type " + x.getClass().getSimpleName()
        + "; expected an integer or string label");
  }

  static final Comparator<Object> LABEL_ORDER = (a, b) -> {
    if (a instanceof Long && b instanceof Long) {
      return Long.compare((Long) a, (Long) b);
    }
    String x = (String) a;
    String y = (String) b;
    // Python compares code points, not UTF-16 units.
    int i = 0;
    int j = 0;
    while (i < x.length() && j < y.length()) {
      int cx = x.codePointAt(i);
      int cy = y.codePointAt(j);
      if (cx != cy) {
        return Integer.compare(cx, cy);
      }
      i += Character.charCount(cx);
      j += Character.charCount(cy);
    }
    return Integer.compare(x.length() - i, y.length() - j);
  };

  /** The sorted union of the labels seen (scikit-learn's {@code unique_labels}). */
  public List<Object> labels(Stats s) {
    List<Object> labels = new ArrayList<>(s.counts.keySet());
    labels.sort(LABEL_ORDER);
    return labels;
  }

  /** {@code accuracy_score}: NaN for no examples, as numpy's mean of nothing. */
  public double accuracy(Stats s) {
    return s.n == 0 ? Double.NaN : (double) s.correct / s.n;
  }

  /**
   * precision, recall, f1 (F-beta) and accuracy under this object's options; for average "none" each of the
   * first three is a list in label order and "labels" lists the labels.
   */
  public MetricResult compute(Stats s) {
    List<Object> present = labels(s);
    List<Object> labels;
    String average = options.average;
    if (average.equals("binary")) {
      if (present.size() > 2) {
        throw new MetricException("Target is multiclass but average='binary'. Please choose another average "
            + "setting, one of [None, 'micro', 'macro', 'weighted'].");
      }
      Object pos = label(options.posLabel, "pos_label");
      if (!present.contains(pos) && present.size() >= 2) {
        throw new MetricException("pos_label=" + repr(pos) + " is not a valid label. It should be one of "
            + reprList(present));
      }
      labels = List.of(pos);
    } else if (options.labels != null) {
      labels = new ArrayList<>();
      for (Object l : options.labels) {
        labels.add(label(l, "labels entry"));
      }
    } else {
      labels = present;
    }
    int n = labels.size();
    double[] tp = new double[n];
    double[] pred = new double[n];
    double[] tru = new double[n];
    for (int i = 0; i < n; i++) {
      long[] c = s.counts.get(labels.get(i));
      if (c != null) {
        tp[i] = c[0];
        pred[i] = c[1];
        tru[i] = c[2];
      }
    }
    if (average.equals("micro")) {
      tp = new double[] {sum(tp)};
      pred = new double[] {sum(pred)};
      tru = new double[] {sum(tru)};
    }
    double zd = options.zeroDivisionValue();
    double[] precision = divide(tp, pred, zd);
    double[] recall = divide(tp, tru, zd);
    double beta2 = options.beta * options.beta;
    double[] f = new double[precision.length];
    for (int i = 0; i < f.length; i++) {
      double denom = beta2 * precision[i] + recall[i];
      if (denom == 0.0) {
        denom = 1;
      }
      f[i] = (1 + beta2) * precision[i] * recall[i] / denom;
    }
    MetricResult.Builder b = MetricResult.builder();
    if (average.equals("none")) {
      b.put("precision", toList(precision)).put("recall", toList(recall)).put("f1", toList(f));
      b.put("labels", new ArrayList<>(labels));
    } else if (average.equals("weighted") && sum(tru) == 0) {
      // scikit-learn's early return when no label of interest occurs in the references.
      if (sum(pred) == 0) {
        b.put("precision", zd).put("recall", zd).put("f1", zd);
      } else {
        b.put("precision", 0.0).put("recall", zd).put("f1", 0.0);
      }
    } else {
      double[] weights = average.equals("weighted") ? tru : null;
      b.put("precision", average(precision, weights)).put("recall", average(recall, weights))
          .put("f1", average(f, weights));
    }
    b.put("accuracy", accuracy(s));
    return b.build();
  }

  private static double[] divide(double[] num, double[] den, double zd) {
    double[] out = new double[num.length];
    for (int i = 0; i < num.length; i++) {
      out[i] = den[i] == 0.0 ? zd : num[i] / den[i];
    }
    return out;
  }

  private static double sum(double[] a) {
    double s = 0;
    for (double x : a) {
      s += x;
    }
    return s;
  }

  private static double average(double[] a, double[] weights) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      if (Double.isNaN(a[i])) {
        continue; // only possible with zero_division=nan, where scikit-learn skips NaN
      }
      double w = weights == null ? 1 : weights[i];
      num += a[i] * w;
      den += w;
    }
    return num / den;
  }

  private static List<Double> toList(double[] a) {
    List<Double> out = new ArrayList<>();
    for (double x : a) {
      out.add(x);
    }
    return out;
  }

  static String repr(Object label) {
    return label instanceof String ? "'" + label + "'" : label.toString();
  }

  static String reprList(List<Object> labels) {
    List<String> parts = new ArrayList<>();
    for (Object l : labels) {
      parts.add(repr(l));
    }
    return "[" + String.join(", ", parts) + "]";
  }

  /** Per label [true positives, predicted, true], and the number of examples and of exact agreements. */
  public static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    final HashMap<Object, long[]> counts = new HashMap<>();
    String kind;
    long n;
    long correct;

    void checkKind(Object label, String what) {
      String k = label instanceof String ? "string" : "integer";
      if (kind == null) {
        kind = k;
      } else if (!kind.equals(k)) {
        throw new InvalidInputException("Mix of label input types (string and number): this " + what + " is a "
            + k + " label (" + repr(label) + ") but earlier labels are " + kind + "s");
      }
    }

    public long count() {
      return n;
    }

    /** [tp, predicted, true] for one label, zeros if unseen. */
    public long[] countsOf(Object label) {
      long[] c = counts.get(label(label, "label"));
      return c == null ? new long[3] : c.clone();
    }
  }

  /** scikit-learn's arguments. */
  public static final class Options implements Serializable {
    private static final long serialVersionUID = 1L;
    final String average;
    final Object posLabel;
    final String zeroDivision;
    final List<Object> labels;
    final double beta;

    private Options(Builder b) {
      average = b.average;
      posLabel = b.posLabel;
      zeroDivision = b.zeroDivision;
      labels = b.labels == null ? null : List.copyOf(b.labels);
      beta = b.beta;
    }

    public static Builder builder() {
      return new Builder();
    }

    public String average() {
      return average;
    }

    double zeroDivisionValue() {
      switch (zeroDivision) {
        case "1":
          return 1.0;
        case "nan":
          return Double.NaN;
        default:
          return 0.0;
      }
    }

    public static final class Builder {
      private String average = "binary";
      private Object posLabel = 1L;
      private String zeroDivision = "warn";
      private List<Object> labels;
      private double beta = 1.0;

      /** binary (default), micro, macro, weighted or none (per label). */
      public Builder average(String v) {
        String a = v == null ? "none" : v.toLowerCase(java.util.Locale.ROOT);
        if (!List.of("binary", "micro", "macro", "weighted", "none").contains(a)) {
          throw new IllegalArgumentException("average '" + v + "': expected one of binary, micro, macro, weighted, none");
        }
        this.average = a;
        return this;
      }

      /** The positive class for average binary (default 1). */
      public Builder posLabel(Object v) {
        this.posLabel = label(v, "pos_label");
        return this;
      }

      /** warn (default; as 0), 0, 1 or nan. */
      public Builder zeroDivision(String v) {
        String z = v.toLowerCase(java.util.Locale.ROOT);
        if (z.equals("0.0")) {
          z = "0";
        } else if (z.equals("1.0")) {
          z = "1";
        }
        if (!List.of("warn", "0", "1", "nan").contains(z)) {
          throw new IllegalArgumentException("zero_division '" + v + "': expected one of warn, 0, 1, nan");
        }
        this.zeroDivision = z;
        return this;
      }

      /** The labels to report and average over (default: the sorted union of the labels seen). */
      public Builder labels(List<?> v) {
        this.labels = v == null ? null : new ArrayList<>(v);
        return this;
      }

      public Builder beta(double v) {
        this.beta = v;
        return this;
      }

      public Options build() {
        return new Options(this);
      }
    }
  }
}
