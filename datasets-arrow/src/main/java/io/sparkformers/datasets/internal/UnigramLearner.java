package io.sparkformers.datasets.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Learns a Unigram (SentencePiece) vocabulary from word counts as the tokenizers library's
 * {@code UnigramTrainer} does: seed pieces are every character and every substring (2 to
 * {@code maxPieceLength} characters) that repeats with different next characters (the internal nodes of the
 * suffix tree of the words joined by NUL), scored by occurrences × length; then rounds of EM (expected counts
 * over each word's lattice, scores digamma(count) − digamma(total), pieces expected less than half a time
 * dropped) and pruning of the pieces whose removal loses least likelihood, down to 1.1 × the vocabulary
 * size; finally every character is kept, the best-scoring pieces fill the vocabulary, special tokens come
 * first with score 0.
 */
public final class UnigramLearner {
  private static final String TRAINING_UNK = "<UNK>";
  private static final double UNK_PENALTY = 10.0;

  /** One vocabulary entry. */
  public record Piece(String piece, double score) {}

  /** The learned vocabulary in id order and the id of the unknown token (-1 when there is none). */
  public record Result(List<Piece> vocab, int unkId) {}

  private final int vocabSize;
  private final List<String> specialTokens;
  private final String unkToken;
  private final int maxPieceLength;
  private final double shrinkingFactor;
  private final int subIterations;

  public UnigramLearner(int vocabSize, List<String> specialTokens, String unkToken, int maxPieceLength,
      double shrinkingFactor, int subIterations) {
    this.vocabSize = vocabSize;
    this.specialTokens = List.copyOf(specialTokens);
    this.unkToken = unkToken;
    this.maxPieceLength = maxPieceLength;
    this.shrinkingFactor = shrinkingFactor;
    this.subIterations = subIterations;
  }

  private record Sentence(int[] chars, long count) {}

  /** A model during training: pieces, their ids and the lattice they build. */
  private static final class Model {
    final List<Piece> pieces;
    final Map<String, Integer> ids = new HashMap<>();
    final double minScore;
    final int maxLength;

    Model(List<Piece> pieces) {
      this.pieces = pieces;
      double min = Double.POSITIVE_INFINITY;
      int longest = 0;
      for (int i = 0; i < pieces.size(); i++) {
        Piece p = pieces.get(i);
        ids.put(p.piece(), i);
        if (p.score() < min) { // NaN (the training unk) never counts
          min = p.score();
        }
        longest = Math.max(longest, p.piece().codePointCount(0, p.piece().length()));
      }
      this.minScore = min;
      this.maxLength = longest;
    }

    UnigramLattice lattice(int[] text) {
      UnigramLattice lattice = new UnigramLattice(text, pieces.size() + 1, pieces.size() + 2);
      double unkScore = minScore - UNK_PENALTY;
      for (int begin = 0; begin < text.length; begin++) {
        boolean hasSingle = false;
        for (int len = 1; len <= maxLength && begin + len <= text.length; len++) {
          Integer id = ids.get(new String(text, begin, len));
          if (id != null) {
            lattice.insert(begin, len, pieces.get(id).score(), id);
            hasSingle |= len == 1;
          }
        }
        if (!hasSingle) {
          lattice.insert(begin, 1, unkScore, 0);
        }
      }
      return lattice;
    }
  }

  /** Learns from words and their counts (iteration order is kept where the library's order matters). */
  public Result learn(Map<String, Long> wordCounts) {
    List<Sentence> sentences = new ArrayList<>();
    wordCounts.forEach((w, c) -> sentences.add(new Sentence(w.codePoints().toArray(), c)));
    Set<Integer> requiredChars = new LinkedHashSet<>();
    for (Sentence s : sentences) {
      for (int c : s.chars) {
        requiredChars.add(c);
      }
    }
    if (requiredChars.size() > vocabSize) {
      throw new IllegalArgumentException("A vocabulary of " + vocabSize + " cannot hold the " + requiredChars.size()
          + " characters of the texts");
    }
    List<Piece> pieces = new ArrayList<>();
    pieces.add(new Piece(TRAINING_UNK, Double.NaN));
    pieces.addAll(seedPieces(sentences));
    int desiredVocabSize = vocabSize * 11 / 10;
    Model model = new Model(pieces);
    while (true) {
      for (int i = 0; i < subIterations; i++) {
        double[] expected = expectedCounts(model, sentences);
        pieces = maximize(pieces, expected);
        model = new Model(pieces);
      }
      if (pieces.size() <= desiredVocabSize) {
        break;
      }
      pieces = prune(model, pieces, sentences, desiredVocabSize);
      model = new Model(pieces);
    }
    return finish(model, requiredChars);
  }

  /** The seed pieces with their log probabilities (visible to tests). */
  List<Piece> seedPieces(Map<String, Long> wordCounts) {
    List<Sentence> sentences = new ArrayList<>();
    wordCounts.forEach((w, c) -> sentences.add(new Sentence(w.codePoints().toArray(), c)));
    return seedPieces(sentences);
  }

  private List<Piece> seedPieces(List<Sentence> sentences) {
    Map<Integer, Long> charCounts = new HashMap<>();
    // Substring → {occurrences, the character after the first occurrence (0 at a word's end), 1 if another differs}
    Map<String, long[]> repeats = new HashMap<>();
    for (Sentence s : sentences) {
      int[] t = s.chars;
      for (int c : t) {
        if (c != 0) {
          charCounts.merge(c, s.count, Long::sum);
        }
      }
      for (int start = 0; start < t.length; start++) {
        for (int len = 2; len <= maxPieceLength && start + len <= t.length; len++) {
          if (t[start + len - 1] == 0) {
            break;
          }
          int next = start + len < t.length ? t[start + len] : 0;
          long[] r = repeats.computeIfAbsent(new String(t, start, len), k -> new long[] {0, next, 0});
          r[0]++;
          if (r[1] != next) {
            r[2] = 1;
          }
        }
      }
    }
    List<Piece> seeds = new ArrayList<>();
    List<Map.Entry<Integer, Long>> chars = new ArrayList<>(charCounts.entrySet());
    chars.sort(Comparator.<Map.Entry<Integer, Long>, Long>comparing(Map.Entry::getValue)
        .thenComparing(Map.Entry::getKey).reversed());
    for (Map.Entry<Integer, Long> e : chars) {
      seeds.add(new Piece(new String(Character.toChars(e.getKey())), e.getValue()));
    }
    // Only substrings that occur twice or more and branch (an internal node of the suffix tree) are seeds.
    record Scored(int[] chars, long score) {}
    List<Scored> substrings = new ArrayList<>();
    repeats.forEach((s, r) -> {
      if (r[0] >= 2 && r[2] == 1) {
        int[] cps = s.codePoints().toArray();
        substrings.add(new Scored(cps, r[0] * cps.length));
      }
    });
    substrings.sort(Comparator.comparingLong(Scored::score).thenComparing(Scored::chars, Arrays::compare).reversed());
    for (Scored s : substrings) {
      seeds.add(new Piece(new String(s.chars, 0, s.chars.length), s.score));
    }
    double sum = 0;
    for (Piece p : seeds) {
      sum += p.score();
    }
    double logSum = Math.log(sum);
    List<Piece> logProbs = new ArrayList<>(seeds.size());
    for (Piece p : seeds) {
      logProbs.add(new Piece(p.piece(), Math.log(p.score()) - logSum));
    }
    return logProbs;
  }

  private static double[] expectedCounts(Model model, List<Sentence> sentences) {
    double[] expected = new double[model.pieces.size()];
    for (Sentence s : sentences) {
      model.lattice(s.chars).populateMarginal(s.count, expected);
    }
    return expected;
  }

  /** The M step: drop pieces expected less than half a time; score = digamma(count) − digamma(total). */
  private static List<Piece> maximize(List<Piece> pieces, double[] expected) {
    List<Piece> kept = new ArrayList<>();
    List<Double> counts = new ArrayList<>();
    double sum = 0.0;
    for (int i = 0; i < pieces.size(); i++) {
      if (i == 0) {
        kept.add(pieces.get(0));
        counts.add(Double.NaN);
        continue;
      }
      if (expected[i] < 0.5) {
        continue;
      }
      kept.add(pieces.get(i));
      counts.add(expected[i]);
      sum += expected[i];
    }
    double logSum = digamma(sum);
    List<Piece> out = new ArrayList<>(kept.size());
    for (int i = 0; i < kept.size(); i++) {
      out.add(new Piece(kept.get(i).piece(), digamma(counts.get(i)) - logSum));
    }
    return out;
  }

  static double digamma(double x) {
    double result = 0.0;
    while (x < 7.0) {
      result -= 1.0 / x;
      x += 1.0;
    }
    x -= 1.0 / 2.0;
    double xx = 1.0 / x;
    double xx2 = xx * xx;
    double xx4 = xx2 * xx2;
    result += Math.log(x) + (1.0 / 24.0) * xx2 - 7.0 / 960.0 * xx4 + (31.0 / 8064.0) * xx4 * xx2
        - (127.0 / 30720.0) * xx4 * xx4;
    return result;
  }

  /**
   * Keeps the pieces that cannot be split or that the best segmentation never uses instead of their split, and
   * of the others those whose replacement by their second-best segmentation would lose most likelihood.
   */
  private List<Piece> prune(Model model, List<Piece> pieces, List<Sentence> sentences, int desiredVocabSize) {
    int n = pieces.size();
    boolean[] alwaysKeep = new boolean[n];
    List<List<Integer>> alternatives = new ArrayList<>(n);
    for (int id = 0; id < n; id++) {
      alternatives.add(new ArrayList<>());
      if (id == 0) {
        continue;
      }
      UnigramLattice lattice = model.lattice(pieces.get(id).piece().codePoints().toArray());
      List<List<UnigramLattice.Node>> best = lattice.nBest(2);
      if (best.size() == 1) {
        alwaysKeep[id] = true;
      } else if (best.get(0).size() >= 2) {
        alwaysKeep[id] = false;
      } else if (best.get(0).size() == 1) {
        alwaysKeep[id] = true;
        for (UnigramLattice.Node node : best.get(1)) {
          alternatives.get(id).add(node.pieceId);
        }
      }
    }
    double vsum = 0.0;
    double[] freq = new double[n];
    List<List<Integer>> inverted = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      inverted.add(new ArrayList<>());
    }
    for (int i = 0; i < sentences.size(); i++) {
      Sentence s = sentences.get(i);
      vsum += s.count;
      for (UnigramLattice.Node node : model.lattice(s.chars).viterbi()) {
        freq[node.pieceId] += s.count;
        inverted.get(node.pieceId).add(i);
      }
    }
    double sum = 0.0;
    for (double f : freq) {
      sum += f;
    }
    double logSum = Math.log(sum);
    record Candidate(int id, double loss) {}
    List<Candidate> candidates = new ArrayList<>();
    List<Piece> kept = new ArrayList<>();
    kept.add(pieces.get(0));
    for (int id = 1; id < n; id++) {
      if (freq[id] == 0.0 && !alwaysKeep[id]) {
        continue;
      } else if (alternatives.get(id).isEmpty()) {
        kept.add(pieces.get(id));
      } else {
        double f = 0.0;
        for (int s : inverted.get(id)) {
          f += sentences.get(s).count;
        }
        if (f == 0.0 || Double.isNaN(f)) {
          continue;
        }
        f /= vsum;
        double logProbPiece = Math.log(freq[id]) - logSum;
        // As the library: the total grows by freq × (number of pieces − 1), not by the alternatives' count.
        double logSumAlt = Math.log(sum + freq[id] * (n - 1));
        double logProbAlt = 0.0;
        for (int alt : alternatives.get(id)) {
          logProbAlt += Math.log(freq[alt] + freq[id]) - logSumAlt;
        }
        candidates.add(new Candidate(id, f * (logProbPiece - logProbAlt)));
      }
    }
    int prunedSize = Math.max(desiredVocabSize, (int) (n * shrinkingFactor));
    candidates.sort(Comparator.comparingDouble(Candidate::loss).reversed());
    for (Candidate c : candidates) {
      if (kept.size() == prunedSize) {
        break;
      }
      kept.add(pieces.get(c.id));
    }
    return kept;
  }

  private Result finish(Model model, Set<Integer> requiredChars) {
    double penalty = 0.0;
    List<Piece> pieces = new ArrayList<>();
    Set<String> inserted = new HashSet<>();
    inserted.add(TRAINING_UNK);
    Map<String, Double> existing = new LinkedHashMap<>();
    for (Piece p : model.pieces) {
      existing.put(p.piece(), p.score());
    }
    for (int c : requiredChars) {
      String s = new String(Character.toChars(c));
      inserted.add(s);
      Double score = existing.get(s);
      if (score != null) {
        pieces.add(new Piece(s, score));
      } else {
        pieces.add(new Piece(s, model.minScore + penalty));
        penalty += 0.0001;
      }
    }
    int unkId = -1;
    boolean addUnk = false;
    if (unkToken != null) {
      unkId = specialTokens.indexOf(unkToken);
      if (unkId < 0) {
        unkId = 0;
        addUnk = true;
      }
    }
    int withoutSpecial = vocabSize - specialTokens.size() - (addUnk ? 1 : 0);
    for (Piece p : model.pieces) {
      if (pieces.size() >= withoutSpecial) {
        break;
      }
      if (!inserted.add(p.piece())) {
        continue;
      }
      pieces.add(new Piece(p.piece(), Double.isNaN(p.score()) ? 0.0 : p.score()));
    }
    pieces.sort(Comparator.comparingDouble(Piece::score).reversed()); // stable, as the library's sort
    List<Piece> vocab = new ArrayList<>();
    if (addUnk) {
      vocab.add(new Piece(unkToken, 0.0));
    }
    for (String s : specialTokens) {
      vocab.add(new Piece(s, 0.0));
    }
    vocab.addAll(pieces);
    return new Result(vocab, unkId);
  }
}
