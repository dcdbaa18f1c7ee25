package io.sparkformers.evaluate;

import io.sparkformers.evaluate.internal.NgramIndex;
import io.sparkformers.evaluate.internal.PythonText;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * chrF and chrF++ as sacrebleu 2.6.0's {@code CHRF} computes them: character n-grams 1..char_order over the
 * text with whitespace removed, word n-grams 1..word_order over words with one leading or trailing
 * punctuation mark split off, F-beta of the averaged precision and recall over the orders that have n-grams
 * (or eps smoothing), and for several references the statistics of the best-scoring one.
 */
public final class Chrf implements TextMetric<Chrf.Stats> {
  private static final long serialVersionUID = 1L;
  private static final String PUNCTS = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  // Word ids live above every code point + 1, so word and character n-grams never share an id.
  private static final int WORD_OFFSET = 0x110001;

  private final int charOrder;
  private final int wordOrder;
  private final int beta;
  private final boolean lowercase;
  private final boolean whitespace;
  private final boolean epsSmoothing;

  /** chrF2 with sacrebleu's defaults (char_order 6, word_order 0, beta 2). */
  public Chrf() {
    this(6, 0, 2, false, false, false);
  }

  public Chrf(int charOrder, int wordOrder, int beta, boolean lowercase, boolean whitespace, boolean epsSmoothing) {
    this.charOrder = charOrder;
    this.wordOrder = wordOrder;
    this.beta = beta;
    this.lowercase = lowercase;
    this.whitespace = whitespace;
    this.epsSmoothing = epsSmoothing;
  }

  /** chrF++: chrF with word bigrams. */
  public static Chrf chrfPlusPlus() {
    return new Chrf(6, 2, 2, false, false, false);
  }

  public Chrf withLowercase(boolean lc) {
    return new Chrf(charOrder, wordOrder, beta, lc, whitespace, epsSmoothing);
  }

  @Override
  public String name() {
    return wordOrder > 0 ? "chrf_pp" : "chrf";
  }

  private int order() {
    return charOrder + wordOrder;
  }

  @Override
  public Stats newState() {
    return new Stats(order());
  }

  @Override
  public void add(Stats s, String prediction, List<String> references) {
    List<String> refs = TextMetric.checkedReferences(prediction, references);
    s.add(segmentStatistics(prediction, refs), refs.size());
  }

  @Override
  public Stats merge(Stats into, Stats other) {
    into.merge(other);
    return into;
  }

  @Override
  public MetricResult compute(Stats s) {
    if (s.segments == 0) {
      throw new MetricException("chrF of an empty corpus: sacrebleu raises (IndexError: list index out of range)");
    }
    return result(fScore(s.stats), s);
  }

  /** {@code sacrebleu.sentence_chrf(prediction, references)} with this metric's options. */
  public MetricResult sentenceScore(String prediction, List<String> references) {
    Stats s = newState();
    add(s, prediction, references);
    return result(fScore(s.stats), s);
  }

  private MetricResult result(double score, Stats s) {
    String name = "chrF" + beta + "+".repeat(wordOrder);
    String nrefs = s.minRefs == s.maxRefs ? Integer.toString(s.maxRefs) : "var";
    return MetricResult.builder()
        .put("score", score)
        .put("char_order", (long) charOrder)
        .put("word_order", (long) wordOrder)
        .put("beta", (long) beta)
        .put("formatted", name + " = " + PythonText.fixed(score, 2))
        .put("signature", "nrefs:" + nrefs + "|case:" + (lowercase ? "lc" : "mixed") + "|eff:"
            + (epsSmoothing ? "no" : "yes") + "|nc:" + charOrder + "|nw:" + wordOrder + "|space:"
            + (whitespace ? "yes" : "no") + "|version:" + Bleu.SACREBLEU_VERSION)
        .build();
  }

  double fScore(long[] stats) {
    double eps = 1e-16;
    double score = 0.0;
    int effectiveOrder = 0;
    double factor = (double) beta * beta;
    double avgPrec = 0.0;
    double avgRec = 0.0;
    for (int i = 0; i < order(); i++) {
      long nHyp = stats[3 * i];
      long nRef = stats[3 * i + 1];
      long nMatch = stats[3 * i + 2];
      double prec = nHyp > 0 ? (double) nMatch / nHyp : eps;
      double rec = nRef > 0 ? (double) nMatch / nRef : eps;
      double denom = factor * prec + rec;
      score += denom > 0 ? ((1 + factor) * prec * rec / denom) : eps;
      if (nHyp > 0 && nRef > 0) {
        avgPrec += prec;
        avgRec += rec;
        effectiveOrder++;
      }
    }
    if (epsSmoothing) {
      return 100 * score / order();
    }
    if (effectiveOrder == 0) {
      avgPrec = 0.0;
      avgRec = 0.0;
    } else {
      avgPrec /= effectiveOrder;
      avgRec /= effectiveOrder;
    }
    if (avgPrec + avgRec != 0) {
      score = (1 + factor) * avgPrec * avgRec;
      score /= (factor * avgPrec) + avgRec;
      return 100 * score;
    }
    return 0.0;
  }

  private int[] charTokens(String s) {
    String line = lowercase ? PythonText.lower(s) : s;
    int[] out = new int[line.length()];
    int k = 0;
    for (int i = 0; i < line.length(); ) {
      int cp = line.codePointAt(i);
      i += Character.charCount(cp);
      if (whitespace || !PythonText.isSpace(cp)) {
        out[k++] = cp + 1;
      }
    }
    return java.util.Arrays.copyOf(out, k);
  }

  private List<String> words(String s) {
    String line = lowercase ? PythonText.lower(s) : s;
    List<String> out = new ArrayList<>();
    for (String w : PythonText.split(line)) {
      int n = w.codePointCount(0, w.length());
      if (n == 1) {
        out.add(w);
        continue;
      }
      int last = w.codePointBefore(w.length());
      int first = w.codePointAt(0);
      if (last < 128 && PUNCTS.indexOf(last) >= 0) {
        out.add(w.substring(0, w.length() - 1));
        out.add(w.substring(w.length() - 1));
      } else if (first < 128 && PUNCTS.indexOf(first) >= 0) {
        out.add(w.substring(0, 1));
        out.add(w.substring(1));
      } else {
        out.add(w);
      }
    }
    return out;
  }

  private int[][] allNgrams(NgramIndex idx, String s) {
    int[][] ng = new int[order()][];
    int[][] chars = idx.ngrams(charTokens(s), charOrder);
    System.arraycopy(chars, 0, ng, 0, charOrder);
    if (wordOrder > 0) {
      int[] ids = idx.tokenIds(words(s));
      for (int i = 0; i < ids.length; i++) {
        ids[i] += WORD_OFFSET;
      }
      int[][] w = idx.ngrams(ids, wordOrder);
      System.arraycopy(w, 0, ng, charOrder, wordOrder);
    }
    return ng;
  }

  long[] segmentStatistics(String hyp, List<String> refs) {
    NgramIndex idx = Bleu.INDEX.get();
    idx.clear();
    int[][] hypNg = allNgrams(idx, hyp);
    int[][][] refNg = new int[refs.size()][][];
    for (int r = 0; r < refs.size(); r++) {
      refNg[r] = allNgrams(idx, refs.get(r));
    }
    int limit = idx.idLimit();
    int[] hypCnt = new int[limit];
    int[] refCnt = new int[limit];
    for (int[] ids : hypNg) {
      for (int id : ids) {
        hypCnt[id]++;
      }
    }
    long[] best = null;
    double bestF = -1.0;
    for (int[][] rng : refNg) {
      long[] stats = new long[3 * order()];
      for (int k = 0; k < order(); k++) {
        for (int id : rng[k]) {
          refCnt[id]++;
        }
        long match = 0;
        for (int id : hypNg[k]) {
          // Each distinct n-gram once: count min(hyp, ref), then mark it done by negating.
          int h = hypCnt[id];
          if (h > 0) {
            match += Math.min(h, refCnt[id]);
            hypCnt[id] = -h;
          }
        }
        for (int id : hypNg[k]) {
          if (hypCnt[id] < 0) {
            hypCnt[id] = -hypCnt[id];
          }
        }
        for (int id : rng[k]) {
          refCnt[id] = 0;
        }
        long hypCount = hypNg[k].length;
        long refCount = rng[k].length;
        stats[3 * k] = refCount > 0 ? hypCount : 0;
        stats[3 * k + 1] = refCount;
        stats[3 * k + 2] = match;
      }
      double f = fScore(stats);
      if (f > bestF) {
        bestF = f;
        best = stats;
      }
    }
    return best;
  }

  /** Summed [hyp, ref, match] counts per order. */
  public static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    final long[] stats;
    int minRefs = Integer.MAX_VALUE;
    int maxRefs;
    long segments;

    Stats(int order) {
      stats = new long[3 * order];
    }

    void add(long[] seg, int numRefs) {
      for (int i = 0; i < stats.length; i++) {
        stats[i] += seg[i];
      }
      minRefs = Math.min(minRefs, numRefs);
      maxRefs = Math.max(maxRefs, numRefs);
      segments++;
    }

    void merge(Stats o) {
      for (int i = 0; i < stats.length; i++) {
        stats[i] += o.stats[i];
      }
      minRefs = Math.min(minRefs, o.minRefs);
      maxRefs = Math.max(maxRefs, o.maxRefs);
      segments += o.segments;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Stats && java.util.Arrays.equals(stats, ((Stats) o).stats) && segments == ((Stats) o).segments;
    }

    @Override
    public int hashCode() {
      return java.util.Arrays.hashCode(stats);
    }
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Chrf)) {
      return false;
    }
    Chrf c = (Chrf) o;
    return charOrder == c.charOrder && wordOrder == c.wordOrder && beta == c.beta && lowercase == c.lowercase
        && whitespace == c.whitespace && epsSmoothing == c.epsSmoothing;
  }

  @Override
  public int hashCode() {
    return Objects.hash(charOrder, wordOrder, beta, lowercase, whitespace);
  }
}
