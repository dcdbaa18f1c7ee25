package io.sparkformers.evaluate;

import io.sparkformers.evaluate.internal.NgramIndex;
import io.sparkformers.evaluate.internal.PythonText;
import io.sparkformers.evaluate.internal.SacreTokenizers;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Corpus BLEU exactly as sacrebleu 2.6.0's {@code BLEU().corpus_score} computes it: tokenizers 13a (default),
 * intl, zh, char and none; smoothing exp (default), floor, add-k and none; lower-casing; effective order;
 * several references per segment, also a varying number (closest reference length, clipping by the largest
 * count over references). The statistics are sacrebleu's own sufficient statistics, summed.
 */
public final class Bleu implements TextMetric<Bleu.Stats> {
  private static final long serialVersionUID = 1L;
  /** The sacrebleu version whose numbers and signature we reproduce. */
  public static final String SACREBLEU_VERSION = "2.6.0";
  static final ThreadLocal<NgramIndex> INDEX = ThreadLocal.withInitial(NgramIndex::new);

  private final Options options;

  public Bleu() {
    this(Options.builder().build());
  }

  public Bleu(Options options) {
    this.options = Objects.requireNonNull(options);
  }

  public Options options() {
    return options;
  }

  @Override
  public String name() {
    return "bleu";
  }

  @Override
  public Stats newState() {
    return new Stats(options.maxNgramOrder);
  }

  @Override
  public void add(Stats state, String prediction, List<String> references) {
    List<String> refs = TextMetric.checkedReferences(prediction, references);
    List<List<String>> refTokens = new ArrayList<>(refs.size());
    for (String r : refs) {
      refTokens.add(preprocess(r));
    }
    long[] seg = segmentStatistics(preprocess(prediction), refTokens, options.maxNgramOrder);
    state.addSegment(seg, refs.size());
  }

  @Override
  public Stats merge(Stats into, Stats other) {
    into.merge(other);
    return into;
  }

  @Override
  public MetricResult compute(Stats s) {
    if (s.segments == 0) {
      throw new MetricException("BLEU of an empty corpus: sacrebleu raises (IndexError: list index out of range)");
    }
    return score(s, options.effectiveOrder);
  }

  /** {@code sacrebleu.sentence_bleu(prediction, references)}: this metric's options with effective order on. */
  public MetricResult sentenceScore(String prediction, List<String> references) {
    Stats s = newState();
    add(s, prediction, references);
    return score(s, true);
  }

  private MetricResult score(Stats s, boolean effectiveOrder) {
    int n = options.maxNgramOrder;
    double[] correct = new double[n];
    double[] total = new double[n];
    for (int i = 0; i < n; i++) {
      correct[i] = s.correct[i];
      total[i] = s.total[i];
    }
    double smoothValue = options.smoothValue();
    long sysLen = s.sysLen;
    long refLen = s.refLen;
    double bp;
    if (sysLen < refLen) {
      bp = sysLen > 0 ? Math.exp(1 - (double) refLen / sysLen) : 0.0;
    } else {
      bp = 1.0;
    }
    double[] precisions = new double[n];
    double score;
    boolean anyCorrect = false;
    for (long c : s.correct) {
      anyCorrect |= c != 0;
    }
    if (!anyCorrect) {
      score = 0.0;
    } else {
      double smoothMteval = 1.0;
      int effOrder = n;
      for (int k = 1; k <= n; k++) {
        if (options.smoothMethod.equals("add-k") && k > 1) {
          correct[k - 1] += smoothValue;
          total[k - 1] += smoothValue;
        }
        if (total[k - 1] == 0) {
          break;
        }
        if (effectiveOrder) {
          effOrder = k;
        }
        if (correct[k - 1] == 0) {
          if (options.smoothMethod.equals("exp")) {
            smoothMteval *= 2;
            precisions[k - 1] = 100. / (smoothMteval * total[k - 1]);
          } else if (options.smoothMethod.equals("floor")) {
            precisions[k - 1] = 100. * smoothValue / total[k - 1];
          }
        } else {
          precisions[k - 1] = 100. * correct[k - 1] / total[k - 1];
        }
      }
      double sum = 0;
      for (int k = 0; k < effOrder; k++) {
        sum += precisions[k] > 0 ? Math.log(precisions[k]) : -9999999999.0;
      }
      score = bp * Math.exp(sum / effOrder);
    }
    double ratio = refLen != 0 ? (double) sysLen / refLen : 0.0;
    List<Object> counts = new ArrayList<>();
    List<Object> totals = new ArrayList<>();
    List<Object> precs = new ArrayList<>();
    StringBuilder precStr = new StringBuilder();
    for (int k = 0; k < n; k++) {
      counts.add(asNumber(correct[k]));
      totals.add(asNumber(total[k]));
      precs.add(precisions[k]);
      if (k > 0) {
        precStr.append('/');
      }
      precStr.append(PythonText.fixed(precisions[k], 1));
    }
    String formatted = "BLEU = " + PythonText.fixed(score, 2) + " " + precStr + " (BP = " + PythonText.fixed(bp, 3)
        + " ratio = " + PythonText.fixed(ratio, 3) + " hyp_len = " + sysLen + " ref_len = " + refLen + ")";
    MetricResult.Builder b = MetricResult.builder()
        .put("score", score)
        .put("counts", counts)
        .put("totals", totals)
        .put("precisions", precs)
        .put("bp", bp)
        .put("ratio", ratio)
        .put("sys_len", sysLen)
        .put("ref_len", refLen)
        .put("formatted", formatted)
        .put("signature", signature(s, effectiveOrder));
    return b.build();
  }

  /** A count as sacrebleu prints it: an integer, unless add-k smoothing added a fractional value. */
  static Object asNumber(double v) {
    return v == Math.rint(v) && Math.abs(v) < 9e15 ? (Object) (long) v : (Object) v;
  }

  /** sacrebleu's signature, e.g. {@code nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0}. */
  public String signature(Stats s, boolean effectiveOrder) {
    String nrefs = s.minRefs == s.maxRefs ? Integer.toString(s.maxRefs) : "var";
    String smooth = options.smoothMethod;
    if (smooth.equals("floor") || smooth.equals("add-k")) {
      smooth += "[" + PythonText.fixed(options.smoothValue(), 2) + "]";
    }
    return "nrefs:" + nrefs + "|case:" + (options.lowercase ? "lc" : "mixed") + "|eff:" + (effectiveOrder ? "yes" : "no")
        + "|tok:" + options.tokenize + "|smooth:" + smooth + "|version:" + SACREBLEU_VERSION;
  }

  private List<String> preprocess(String sentence) {
    String s = options.lowercase ? PythonText.lower(sentence) : sentence;
    return SacreTokenizers.tokenize(options.tokenize, PythonText.rstrip(s));
  }

  /**
   * sacrebleu's segment statistics: [hyp_len, ref_len (closest), correct[1..N], total[1..N]], with n-gram
   * counts clipped by the largest count over the references.
   */
  static long[] segmentStatistics(List<String> hyp, List<List<String>> refs, int maxOrder) {
    NgramIndex idx = INDEX.get();
    idx.clear();
    int[][][] refNg = new int[refs.size()][][];
    int[] refLens = new int[refs.size()];
    for (int r = 0; r < refs.size(); r++) {
      refLens[r] = refs.get(r).size();
      refNg[r] = idx.ngrams(idx.tokenIds(refs.get(r)), maxOrder);
    }
    int[][] hypNg = idx.ngrams(idx.tokenIds(hyp), maxOrder);
    int limit = idx.idLimit();
    int[] refMax = new int[limit];
    int[] cnt = new int[limit];
    for (int[][] ng : refNg) {
      for (int[] ids : ng) {
        for (int id : ids) {
          cnt[id]++;
        }
      }
      for (int[] ids : ng) {
        for (int id : ids) {
          if (cnt[id] > 0) {
            refMax[id] = Math.max(refMax[id], cnt[id]);
            cnt[id] = 0;
          }
        }
      }
    }
    long[] out = new long[2 + 2 * maxOrder];
    int hypLen = hyp.size();
    out[0] = hypLen;
    out[1] = closestRefLength(hypLen, refLens);
    for (int k = 0; k < maxOrder; k++) {
      int[] ids = hypNg[k];
      for (int id : ids) {
        cnt[id]++;
      }
      for (int id : ids) {
        int c = cnt[id];
        if (c > 0) {
          out[2 + maxOrder + k] += c;
          out[2 + k] += Math.min(c, refMax[id]);
          cnt[id] = 0;
        }
      }
    }
    return out;
  }

  /** The reference length closest to the hypothesis length; the shorter one on a tie. */
  static int closestRefLength(int hypLen, int[] refLens) {
    int closestDiff = -1;
    int closestLen = -1;
    for (int refLen : refLens) {
      int diff = Math.abs(hypLen - refLen);
      if (closestDiff == -1 || diff < closestDiff) {
        closestDiff = diff;
        closestLen = refLen;
      } else if (diff == closestDiff && refLen < closestLen) {
        closestLen = refLen;
      }
    }
    return closestLen;
  }

  /** Summed segment statistics, and the smallest and largest number of references seen (for the signature). */
  public static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    long sysLen;
    long refLen;
    final long[] correct;
    final long[] total;
    int minRefs = Integer.MAX_VALUE;
    int maxRefs;
    long segments;

    Stats(int order) {
      correct = new long[order];
      total = new long[order];
    }

    void addSegment(long[] seg, int numRefs) {
      int n = correct.length;
      sysLen += seg[0];
      refLen += seg[1];
      for (int k = 0; k < n; k++) {
        correct[k] += seg[2 + k];
        total[k] += seg[2 + n + k];
      }
      minRefs = Math.min(minRefs, numRefs);
      maxRefs = Math.max(maxRefs, numRefs);
      segments++;
    }

    void merge(Stats o) {
      sysLen += o.sysLen;
      refLen += o.refLen;
      for (int k = 0; k < correct.length; k++) {
        correct[k] += o.correct[k];
        total[k] += o.total[k];
      }
      minRefs = Math.min(minRefs, o.minRefs);
      maxRefs = Math.max(maxRefs, o.maxRefs);
      segments += o.segments;
    }

    public long segments() {
      return segments;
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof Stats)) {
        return false;
      }
      Stats s = (Stats) o;
      return sysLen == s.sysLen && refLen == s.refLen && Arrays.equals(correct, s.correct)
          && Arrays.equals(total, s.total) && minRefs == s.minRefs && maxRefs == s.maxRefs && segments == s.segments;
    }

    @Override
    public int hashCode() {
      return Objects.hash(sysLen, refLen, Arrays.hashCode(correct), segments);
    }
  }

  /** BLEU's settings, named as sacrebleu names them. */
  public static final class Options implements Serializable {
    private static final long serialVersionUID = 1L;
    final String tokenize;
    final String smoothMethod;
    final Double smoothValue;
    final boolean lowercase;
    final boolean effectiveOrder;
    final int maxNgramOrder;

    private Options(Builder b) {
      this.tokenize = b.tokenize;
      this.smoothMethod = b.smoothMethod;
      this.smoothValue = b.smoothValue;
      this.lowercase = b.lowercase;
      this.effectiveOrder = b.effectiveOrder;
      this.maxNgramOrder = b.maxNgramOrder;
    }

    public static Builder builder() {
      return new Builder();
    }

    public String tokenize() {
      return tokenize;
    }

    public String smoothMethod() {
      return smoothMethod;
    }

    /** The smoothing value in use: the given one, else sacrebleu's default (floor 0.1, add-k 1). */
    public double smoothValue() {
      if (smoothValue != null) {
        return smoothValue;
      }
      return smoothMethod.equals("floor") ? 0.1 : smoothMethod.equals("add-k") ? 1 : 0;
    }

    public boolean lowercase() {
      return lowercase;
    }

    public boolean effectiveOrder() {
      return effectiveOrder;
    }

    public int maxNgramOrder() {
      return maxNgramOrder;
    }

    public static final class Builder {
      private String tokenize = "13a";
      private String smoothMethod = "exp";
      private Double smoothValue;
      private boolean lowercase;
      private boolean effectiveOrder;
      private int maxNgramOrder = 4;

      /** 13a (default), intl, zh, char or none. */
      public Builder tokenize(String v) {
        if (!List.of("13a", "intl", "zh", "char", "none").contains(v)) {
          throw new IllegalArgumentException("tokenize '" + v + "': expected one of 13a, intl, zh, char, none");
        }
        this.tokenize = v;
        return this;
      }

      /** exp (default), floor, add-k or none. */
      public Builder smoothMethod(String v) {
        if (!List.of("exp", "floor", "add-k", "none").contains(v)) {
          throw new IllegalArgumentException("smooth_method '" + v + "': expected one of exp, floor, add-k, none");
        }
        this.smoothMethod = v;
        return this;
      }

      public Builder smoothValue(Double v) {
        this.smoothValue = v;
        return this;
      }

      public Builder lowercase(boolean v) {
        this.lowercase = v;
        return this;
      }

      public Builder effectiveOrder(boolean v) {
        this.effectiveOrder = v;
        return this;
      }

      public Builder maxNgramOrder(int v) {
        if (v < 1) {
          throw new IllegalArgumentException("max_ngram_order " + v + ": expected at least 1");
        }
        this.maxNgramOrder = v;
        return this;
      }

      public Options build() {
        return new Options(this);
      }
    }
  }
}
