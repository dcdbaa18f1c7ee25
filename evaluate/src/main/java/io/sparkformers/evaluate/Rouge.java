package io.sparkformers.evaluate;

import io.sparkformers.evaluate.internal.NgramIndex;
import io.sparkformers.evaluate.internal.RougeTokenizer;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * ROUGE exactly as rouge-score 0.1.2's {@code RougeScorer(types, use_stemmer)} scores one example, and the
 * plain mean over examples. rougeN counts clipped n-gram overlaps; rougeL is the LCS of the whole texts;
 * rougeLsum is the summary-level union LCS over sentences split at "\n". With several references each type
 * keeps the score of the reference with the highest F-measure (the first on a tie), as {@code score_multi}.
 */
public final class Rouge implements TextMetric<Rouge.Stats> {
  private static final long serialVersionUID = 1L;
  private static final ThreadLocal<RougeTokenizer[]> TOKENIZERS =
      ThreadLocal.withInitial(() -> new RougeTokenizer[] {new RougeTokenizer(false), new RougeTokenizer(true)});

  private final List<String> types;
  private final boolean useStemmer;
  private final boolean keepScores;

  /** rouge1, rouge2, rougeL and rougeLsum, no stemming. */
  public Rouge() {
    this(List.of("rouge1", "rouge2", "rougeL", "rougeLsum"), false, false);
  }

  /**
   * @param types rouge1..rouge9, rougeL, rougeLsum
   * @param useStemmer nltk's Porter stemmer on tokens longer than 3 characters
   * @param keepScores keep every example's scores in the statistics (for {@link #bootstrap}); costs memory
   */
  public Rouge(List<String> types, boolean useStemmer, boolean keepScores) {
    for (String t : types) {
      if (!t.equals("rougeL") && !t.equals("rougeLsum") && !t.matches("rouge[1-9]")) {
        throw new IllegalArgumentException("Invalid rouge type: " + t + " (expected rouge1..rouge9, rougeL, rougeLsum)");
      }
    }
    this.types = List.copyOf(types);
    this.useStemmer = useStemmer;
    this.keepScores = keepScores;
  }

  public List<String> types() {
    return types;
  }

  public boolean useStemmer() {
    return useStemmer;
  }

  @Override
  public String name() {
    return "rouge";
  }

  @Override
  public Stats newState() {
    return new Stats(types.size(), keepScores);
  }

  @Override
  public void add(Stats s, String prediction, List<String> references) {
    List<String> refs = TextMetric.checkedReferences(prediction, references);
    double[][] scores = score(prediction, refs);
    s.add(scores);
  }

  @Override
  public Stats merge(Stats into, Stats other) {
    into.merge(other);
    return into;
  }

  /** Per type, the mean precision, recall and fmeasure over the examples. */
  @Override
  public MetricResult compute(Stats s) {
    MetricResult.Builder b = MetricResult.builder();
    for (int t = 0; t < types.size(); t++) {
      b.put(types.get(t), MetricResult.builder()
          .put("precision", s.sums[t][0].value() / s.count)
          .put("recall", s.sums[t][1].value() / s.count)
          .put("fmeasure", s.sums[t][2].value() / s.count)
          .build());
    }
    return b.build();
  }

  /**
   * One example's scores: result[t] = {precision, recall, fmeasure} for {@code types().get(t)}, the best
   * reference per type.
   */
  public double[][] score(String prediction, List<String> references) {
    RougeTokenizer tok = TOKENIZERS.get()[useStemmer ? 1 : 0];
    double[][] best = null;
    for (String ref : references) {
      double[][] s = scoreOne(tok, ref, prediction);
      if (best == null) {
        best = s;
      } else {
        for (int t = 0; t < s.length; t++) {
          if (s[t][2] > best[t][2]) {
            best[t] = s[t];
          }
        }
      }
    }
    return best;
  }

  private double[][] scoreOne(RougeTokenizer tok, String target, String prediction) {
    boolean onlyLsum = types.size() == 1 && types.get(0).equals("rougeLsum");
    NgramIndex idx = Bleu.INDEX.get();
    idx.clear();
    int[] tgt = null;
    int[] pred = null;
    if (!onlyLsum) {
      tgt = idx.tokenIds(tok.tokenize(target));
      pred = idx.tokenIds(tok.tokenize(prediction));
    }
    double[][] out = new double[types.size()][];
    for (int t = 0; t < types.size(); t++) {
      String type = types.get(t);
      if (type.equals("rougeL")) {
        out[t] = scoreLcs(tgt, pred);
      } else if (type.equals("rougeLsum")) {
        out[t] = summaryLevelLcs(sentenceTokens(tok, idx, target), sentenceTokens(tok, idx, prediction));
      } else {
        out[t] = scoreNgrams(idx, tgt, pred, type.charAt(5) - '0');
      }
    }
    return out;
  }

  private static List<int[]> sentenceTokens(RougeTokenizer tok, NgramIndex idx, String text) {
    List<int[]> out = new ArrayList<>();
    int start = 0;
    while (start <= text.length()) {
      int nl = text.indexOf('\n', start);
      int end = nl < 0 ? text.length() : nl;
      if (end > start) {
        out.add(idx.tokenIds(tok.tokenize(text.substring(start, end))));
      }
      if (nl < 0) {
        break;
      }
      start = nl + 1;
    }
    return out;
  }

  static double fmeasure(double p, double r) {
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }

  private static double[] scoreNgrams(NgramIndex idx, int[] tgt, int[] pred, int n) {
    int[] tg = idx.ngrams(tgt, n)[n - 1];
    int[] pg = idx.ngrams(pred, n)[n - 1];
    int[] tc = new int[idx.idLimit()];
    int[] pc = new int[idx.idLimit()];
    for (int id : tg) {
      tc[id]++;
    }
    for (int id : pg) {
      pc[id]++;
    }
    long inter = 0;
    for (int id : tg) {
      if (tc[id] > 0) {
        inter += Math.min(tc[id], pc[id]);
        tc[id] = 0;
      }
    }
    double precision = (double) inter / Math.max(pg.length, 1);
    double recall = (double) inter / Math.max(tg.length, 1);
    return new double[] {precision, recall, fmeasure(precision, recall)};
  }

  private static int lcsLength(int[] a, int[] b) {
    int[] prev = new int[b.length + 1];
    int[] cur = new int[b.length + 1];
    for (int i = 1; i <= a.length; i++) {
      int ai = a[i - 1];
      for (int j = 1; j <= b.length; j++) {
        cur[j] = ai == b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
      }
      int[] tmp = prev;
      prev = cur;
      cur = tmp;
    }
    return prev[b.length];
  }

  private static double[] scoreLcs(int[] tgt, int[] pred) {
    if (tgt.length == 0 || pred.length == 0) {
      return new double[] {0, 0, 0};
    }
    int lcs = lcsLength(tgt, pred);
    double precision = (double) lcs / pred.length;
    double recall = (double) lcs / tgt.length;
    return new double[] {precision, recall, fmeasure(precision, recall)};
  }

  /** Indices into ref of one LCS with can, found by rouge-score's backtracking. */
  private static List<Integer> lcsIndices(int[] ref, int[] can) {
    int rows = ref.length;
    int cols = can.length;
    int[][] t = new int[rows + 1][cols + 1];
    for (int i = 1; i <= rows; i++) {
      for (int j = 1; j <= cols; j++) {
        t[i][j] = ref[i - 1] == can[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
      }
    }
    List<Integer> lcs = new ArrayList<>();
    int i = rows;
    int j = cols;
    while (i > 0 && j > 0) {
      if (ref[i - 1] == can[j - 1]) {
        lcs.add(i - 1);
        i--;
        j--;
      } else if (t[i][j - 1] > t[i - 1][j]) {
        j--;
      } else {
        i--;
      }
    }
    return lcs;
  }

  private static double[] summaryLevelLcs(List<int[]> refSents, List<int[]> canSents) {
    if (refSents.isEmpty() || canSents.isEmpty()) {
      return new double[] {0, 0, 0};
    }
    int m = 0;
    int n = 0;
    Map<Integer, Integer> cntR = new LinkedHashMap<>();
    Map<Integer, Integer> cntC = new LinkedHashMap<>();
    for (int[] s : refSents) {
      m += s.length;
      for (int x : s) {
        cntR.merge(x, 1, Integer::sum);
      }
    }
    for (int[] s : canSents) {
      n += s.length;
      for (int x : s) {
        cntC.merge(x, 1, Integer::sum);
      }
    }
    if (n == 0 || m == 0) {
      return new double[] {0, 0, 0};
    }
    if (refSents.size() == 1 && canSents.size() == 1) {
      // One sentence each (text without line breaks): the union LCS is one LCS and every one of its tokens
      // passes the count clipping, so hits = LCS length; two rows instead of a full table for long lines.
      int lcs = lcsLength(refSents.get(0), canSents.get(0));
      double recall = (double) lcs / m;
      double precision = (double) lcs / n;
      return new double[] {precision, recall, fmeasure(precision, recall)};
    }
    long hits = 0;
    for (int[] r : refSents) {
      TreeSet<Integer> union = new TreeSet<>();
      for (int[] c : canSents) {
        union.addAll(lcsIndices(r, c));
      }
      for (int i : union) {
        int token = r[i];
        int c = cntC.getOrDefault(token, 0);
        int rr = cntR.getOrDefault(token, 0);
        if (c > 0 && rr > 0) {
          hits++;
          cntC.put(token, c - 1);
          cntR.put(token, rr - 1);
        }
      }
    }
    double recall = (double) hits / m;
    double precision = (double) hits / n;
    return new double[] {precision, recall, fmeasure(precision, recall)};
  }

  /**
   * rouge-score's {@code BootstrapAggregator} on kept per-example scores: {@code samples} resamples with
   * replacement (seeded), the mean of each, and numpy's linear-interpolation percentiles at
   * (1-ci)/2, 0.5 and 1-(1-ci)/2 as low/mid/high. The random stream is not numpy's: mid is close to, not
   * equal to, rouge-score's.
   */
  public MetricResult bootstrap(Stats s, long seed, int samples, double confidenceInterval) {
    if (s.perExample == null) {
      throw new IllegalStateException("bootstrap needs per-example scores: construct Rouge with keepScores=true");
    }
    int n = s.perExample.size();
    if (n == 0) {
      throw new MetricException("bootstrap of an empty corpus");
    }
    SplittableRandom random = new SplittableRandom(seed);
    int nt = types.size();
    double[][][] means = new double[nt][3][samples];
    for (int b = 0; b < samples; b++) {
      double[][] sum = new double[nt][3];
      for (int k = 0; k < n; k++) {
        double[][] ex = s.perExample.get(random.nextInt(n));
        for (int t = 0; t < nt; t++) {
          for (int q = 0; q < 3; q++) {
            sum[t][q] += ex[t][q];
          }
        }
      }
      for (int t = 0; t < nt; t++) {
        for (int q = 0; q < 3; q++) {
          means[t][q][b] = sum[t][q] / n;
        }
      }
    }
    double delta = (1 - confidenceInterval) / 2;
    double[] qs = {100 * delta, 50, 100 * (1 - delta)};
    String[] bounds = {"low", "mid", "high"};
    String[] measures = {"precision", "recall", "fmeasure"};
    MetricResult.Builder out = MetricResult.builder();
    for (int t = 0; t < nt; t++) {
      MetricResult.Builder tb = MetricResult.builder();
      for (int bi = 0; bi < 3; bi++) {
        MetricResult.Builder mb = MetricResult.builder();
        for (int q = 0; q < 3; q++) {
          double[] sorted = means[t][q].clone();
          Arrays.sort(sorted);
          mb.put(measures[q], percentile(sorted, qs[bi]));
        }
        tb.put(bounds[bi], mb.build());
      }
      out.put(types.get(t), tb.build());
    }
    return out.build();
  }

  /** numpy.percentile's default (linear) on sorted data. */
  static double percentile(double[] sorted, double q) {
    double pos = q / 100 * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, sorted.length - 1);
    double frac = pos - lo;
    double a = sorted[lo];
    double b = sorted[hi];
    return frac >= 0.5 ? b - (b - a) * (1 - frac) : a + (b - a) * frac;
  }

  /** Compensated (Neumaier) sums of precision, recall and fmeasure per type: any order agrees to ~1e-16. */
  public static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    final Sum[][] sums;
    long count;
    final List<double[][]> perExample;

    Stats(int types, boolean keepScores) {
      sums = new Sum[types][3];
      for (Sum[] row : sums) {
        for (int q = 0; q < 3; q++) {
          row[q] = new Sum();
        }
      }
      perExample = keepScores ? new ArrayList<>() : null;
    }

    void add(double[][] scores) {
      for (int t = 0; t < sums.length; t++) {
        for (int q = 0; q < 3; q++) {
          sums[t][q].add(scores[t][q]);
        }
      }
      count++;
      if (perExample != null) {
        perExample.add(scores);
      }
    }

    void merge(Stats o) {
      for (int t = 0; t < sums.length; t++) {
        for (int q = 0; q < 3; q++) {
          sums[t][q].add(o.sums[t][q]);
        }
      }
      count += o.count;
      if (perExample != null && o.perExample != null) {
        perExample.addAll(o.perExample);
      }
    }

    public long count() {
      return count;
    }

    /** The kept per-example scores, in the order added (null unless kept). */
    public List<double[][]> perExample() {
      return perExample;
    }
  }

  /** A Neumaier compensated sum. */
  static final class Sum implements Serializable {
    private static final long serialVersionUID = 1L;
    double sum;
    double comp;

    void add(double x) {
      double t = sum + x;
      if (Math.abs(sum) >= Math.abs(x)) {
        comp += (sum - t) + x;
      } else {
        comp += (x - t) + sum;
      }
      sum = t;
    }

    void add(Sum o) {
      add(o.sum);
      add(o.comp);
    }

    double value() {
      return sum + comp;
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Rouge && ((Rouge) o).types.equals(types) && ((Rouge) o).useStemmer == useStemmer;
  }

  @Override
  public int hashCode() {
    return Objects.hash(types, useStemmer);
  }
}
