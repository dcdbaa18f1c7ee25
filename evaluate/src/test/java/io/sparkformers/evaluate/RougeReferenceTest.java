package io.sparkformers.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.evaluate.ReferenceData.TextExample;
import io.sparkformers.evaluate.internal.PorterStemmer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ROUGE against rouge-score 0.1.2 (+ nltk 3.8's Porter stemmer): per example, means, bootstrap. */
class RougeReferenceTest {
  static final List<String> TYPES = List.of("rouge1", "rouge2", "rougeL", "rougeLsum");

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void perExampleAndMeansEqualRougeScore(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    for (boolean stem : new boolean[] {false, true}) {
      JsonNode exp = ReferenceData.expected("text/" + kase).get("rouge_score").get("use_stemmer=" + (stem ? "True" : "False"));
      Rouge rouge = new Rouge(TYPES, stem, true);
      Rouge.Stats s = rouge.newState();
      for (int i = 0; i < data.size(); i++) {
        double[][] got = rouge.score(data.get(i).prediction(), data.get(i).references());
        rouge.add(s, data.get(i).prediction(), data.get(i).references());
        for (int t = 0; t < TYPES.size(); t++) {
          JsonNode e = exp.get("per_example").get(i).get(TYPES.get(t));
          for (int q = 0; q < 3; q++) {
            assertEquals(ReferenceData.num(e.get(q)), got[t][q], 1e-12,
                kase + " stem=" + stem + " example " + i + " " + TYPES.get(t) + " [" + q + "]");
          }
        }
      }
      MetricResult mean = rouge.compute(s);
      MetricResult merged = SacrebleuReferenceTest.shuffledAndMerged(new Rouge(TYPES, stem, false), data);
      for (String t : TYPES) {
        for (String m : List.of("precision", "recall", "fmeasure")) {
          double want = ReferenceData.num(exp.get("mean").get(t).get(m));
          assertEquals(want, mean.getResult(t).getDouble(m), 1e-12, kase + " mean " + t + " " + m);
          assertEquals(want, merged.getResult(t).getDouble(m), 1e-12, kase + " merged mean " + t + " " + m);
        }
      }
      // Our bootstrap (own random stream) lands within a tenth of rouge-score's interval width of the mean.
      MetricResult boot = rouge.bootstrap(s, 0, 1000, 0.95);
      JsonNode ref = exp.get("bootstrap").get("results").get("seed=0");
      for (String t : TYPES) {
        double width = ReferenceData.num(ref.get(t).get("high").get("fmeasure"))
            - ReferenceData.num(ref.get(t).get("low").get("fmeasure"));
        double mid = boot.getResult(t).getResult("mid").getDouble("fmeasure");
        assertTrue(Math.abs(mid - mean.getResult(t).getDouble("fmeasure")) <= 0.1 * width + 1e-12,
            kase + " bootstrap mid " + t + " " + mid);
        assertTrue(boot.getResult(t).getResult("low").getDouble("fmeasure") <= mid);
        assertTrue(boot.getResult(t).getResult("high").getDouble("fmeasure") >= mid);
      }
    }
  }

  @Test
  void porterStemmerSpecialCasesAsNltk() {
    // Values from nltk 3.8 PorterStemmer() (NLTK_EXTENSIONS), covering the irregular table and each extension.
    String[][] cases = {
      {"caresses", "caress"}, {"ponies", "poni"}, {"ties", "tie"}, {"dies", "die"}, {"flies", "fli"},
      {"cats", "cat"}, {"feed", "feed"}, {"agreed", "agre"}, {"plastered", "plaster"}, {"motoring", "motor"},
      {"sing", "sing"}, {"conflated", "conflat"}, {"troubled", "troubl"}, {"sized", "size"}, {"hopping", "hop"},
      {"falling", "fall"}, {"filing", "file"}, {"happy", "happi"}, {"enjoy", "enjoy"}, {"sky", "sky"},
      {"skies", "sky"}, {"dying", "die"}, {"lying", "lie"}, {"news", "news"}, {"innings", "inning"},
      {"proceed", "proceed"}, {"relational", "relat"}, {"conditional", "condit"}, {"generalization", "gener"},
      {"radically", "radic"}, {"archaeology", "archaeolog"}, {"geology", "geolog"}, {"hopefulness", "hope"},
      {"electrical", "electr"}, {"adjustment", "adjust"}, {"adoption", "adopt"}, {"controlling", "control"},
      {"spied", "spi"}, {"died", "die"}, {"effective", "effect"}, {"communism", "commun"}, {"is", "is"},
      {"licenses", "licens"}, {"software", "softwar"}, {"distribution", "distribut"}, {"warranty", "warranti"},
      {"provided", "provid"}, {"copyright", "copyright"}, {"redistribute", "redistribut"}, {"modified", "modifi"}
    };
    for (String[] c : cases) {
      assertEquals(c[1], PorterStemmer.stem(c[0]), c[0]);
    }
  }
}
