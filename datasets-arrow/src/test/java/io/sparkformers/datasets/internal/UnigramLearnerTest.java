package io.sparkformers.datasets.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Cases of the tokenizers library's own UnigramTrainer tests, with its expected values. */
class UnigramLearnerTest {
  private static Map<String, Long> words(Object... wordAndCount) {
    Map<String, Long> m = new LinkedHashMap<>();
    for (int i = 0; i < wordAndCount.length; i += 2) {
      m.put((String) wordAndCount[i], ((Number) wordAndCount[i + 1]).longValue());
    }
    return m;
  }

  @Test
  void seedsAreCharactersThenBranchingRepeatsByOccurrencesTimesLength() {
    UnigramLearner learner = new UnigramLearner(8000, List.of(), null, 16, 0.75, 2);
    List<UnigramLearner.Piece> seeds = learner.seedPieces(words("This is a", 1, "こんにちは友達", 1));
    assertEquals(List.of("s", "i", " ", "達", "友", "ん", "は", "に", "ち", "こ", "h", "a", "T", "is ", "s "),
        seeds.stream().map(UnigramLearner.Piece::piece).toList());
    // log(count / 26): characters 2 or 1, "is " 2 × 3, "s " 2 × 2 ("is" always continues with " ": no seed).
    double[] counts = {2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 4};
    for (int i = 0; i < counts.length; i++) {
      assertEquals(Math.log(counts[i]) - Math.log(26), seeds.get(i).score(), 1e-12, seeds.get(i).piece());
    }
    assertEquals(-2.5649493574615367, seeds.get(0).score()); // the library's test's value
  }

  @Test
  void theUnknownTokenComesFirstUnlessItIsASpecialToken() {
    Map<String, Long> words = words("The", 12, "are", 11);
    List<UnigramLearner.Piece> added = new UnigramLearner(8000, List.of("[SEP]", "[CLS]"), "[UNK]", 16, 0.75, 2)
        .learn(words).vocab();
    assertEquals(List.of("[UNK]", "[SEP]", "[CLS]"), added.subList(0, 3).stream().map(UnigramLearner.Piece::piece)
        .toList());
    assertEquals(0.0, added.get(0).score());
    UnigramLearner.Result kept = new UnigramLearner(8000, List.of("[SEP]", "[CLS]", "[UNK]"), "[UNK]", 16, 0.75, 2)
        .learn(words);
    assertEquals(List.of("[SEP]", "[CLS]", "[UNK]"), kept.vocab().subList(0, 3).stream()
        .map(UnigramLearner.Piece::piece).toList());
    assertEquals(2, kept.unkId());
    UnigramLearner.Result none = new UnigramLearner(8000, List.of(), null, 16, 0.75, 2).learn(words);
    assertEquals("e", none.vocab().get(0).piece());
    assertEquals(-1, none.unkId());
  }

  @Test
  void digammaAndMetaspace() {
    assertEquals(-0.5772156649015329, UnigramLearner.digamma(1.0), 1e-9); // −γ, Euler's constant
    assertEquals(List.of("▁", "▁school", "▁it's", "▁"), Metaspace.preTokenize("  school it's "));
    assertEquals(List.of("▁Hello,", "▁WORLD!!"), Metaspace.preTokenize("Hello, WORLD!!"));
    assertEquals(List.of("▁have\t"), Metaspace.preTokenize("have\t"));
    assertEquals(List.of(), Metaspace.preTokenize(""));
  }
}
