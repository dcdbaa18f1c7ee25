package io.sparkformers.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.evaluate.ReferenceData.LabelExample;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Accuracy, precision, recall and F1 against scikit-learn 1.2.1, every averaging mode and zero_division. */
class SklearnReferenceTest {

  static Classification.Stats stats(Classification c, List<LabelExample> data) {
    Classification.Stats s = c.newState();
    for (LabelExample e : data) {
      c.add(s, e.prediction(), e.reference());
    }
    return s;
  }

  @ParameterizedTest
  @ValueSource(strings = {"binary_int", "multiclass_string", "label_only_in_predictions", "empty"})
  void everyModeEqualsScikitLearn(String kase) {
    List<LabelExample> data = ReferenceData.labels(kase);
    JsonNode exp = ReferenceData.expected("f1/" + kase);
    int checked = 0;
    for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) exp.get("scores")::fields) {
      Classification.Options.Builder b = Classification.Options.builder();
      for (String kv : e.getKey().split(",")) {
        String[] p = kv.split("=");
        switch (p[0]) {
          case "average":
            b.average(p[1].equals("None") ? "none" : p[1]);
            break;
          case "zero_division":
            b.zeroDivision(p[1]);
            break;
          case "pos_label":
            b.posLabel(p[1].matches("-?[0-9]+") ? (Object) Long.parseLong(p[1]) : p[1]);
            break;
          default:
            throw new AssertionError(kv);
        }
      }
      Classification c = new Classification(b.build());
      Classification.Stats s = stats(c, data);
      JsonNode f1 = e.getValue().get("f1_score");
      if (f1.has("error")) {
        MetricException err = assertThrows(MetricException.class, () -> c.compute(s), e.getKey());
        assertEquals(f1.get("error").asText(), "ValueError: " + err.getMessage(), e.getKey());
        checked++;
        continue;
      }
      MetricResult got = c.compute(s);
      String[][] keys = {{"precision_score", "precision"}, {"recall_score", "recall"}, {"f1_score", "f1"}};
      for (String[] k : keys) {
        JsonNode want = e.getValue().get(k[0]).get("value");
        if (want.isArray()) {
          List<Double> list = got.getList(k[1]);
          assertEquals(want.size(), list.size(), e.getKey() + " " + k[0]);
          for (int i = 0; i < want.size(); i++) {
            assertEquals(ReferenceData.num(want.get(i)), list.get(i), 1e-12, e.getKey() + " " + k[0] + "[" + i + "]");
          }
        } else {
          assertEquals(ReferenceData.num(want), got.getDouble(k[1]), 1e-12, e.getKey() + " " + k[0]);
        }
      }
      checked++;
    }
    assertTrue(checked >= 15);
    Classification c = new Classification();
    Classification.Stats s = stats(c, data);
    assertEquals(ReferenceData.num(exp.get("accuracy").get("value")), c.accuracy(s), 1e-12);
    List<Object> labels = c.labels(s);
    assertEquals(exp.get("labels").size(), labels.size());
    for (int i = 0; i < labels.size(); i++) {
      assertEquals(ReferenceData.value(exp.get("labels").get(i)), labels.get(i));
    }
    if (exp.has("per_label_counts")) {
      for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) exp.get("per_label_counts")::fields) {
        Object label = e.getKey().matches("-?[0-9]+") && s.kind.equals("integer") ? (Object) Long.parseLong(e.getKey()) : e.getKey();
        long[] counts = s.countsOf(label);
        JsonNode want = e.getValue();
        assertEquals(want.get("tp").asLong(), counts[0]);
        assertEquals(want.get("tp").asLong() + want.get("fp").asLong(), counts[1]);
        assertEquals(want.get("support").asLong(), counts[2]);
      }
    }
  }

  @Test
  void posLabelNotAmongTwoLabelsIsScikitLearnsError() {
    Classification c = new Classification(Classification.Options.builder().posLabel("yes").build());
    Classification.Stats s = c.newState();
    c.add(s, "a", "b");
    MetricException e = assertThrows(MetricException.class, () -> c.compute(s));
    assertEquals("pos_label='yes' is not a valid label. It should be one of ['a', 'b']", e.getMessage());
  }

  @Test
  void mixingIntegerAndStringLabelsIsAnError() {
    Classification c = new Classification();
    Classification.Stats s = c.newState();
    c.add(s, 1, 1);
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> c.add(s, "1", 1));
    assertTrue(e.getMessage().contains("Mix of label input types"), e.getMessage());
    assertThrows(InvalidInputException.class, () -> c.add(s, 0.5, 1));
    assertThrows(InvalidInputException.class, () -> c.add(s, null, 1));
  }

  @Test
  void givenLabelsRestrictTheAverage() {
    // sklearn: f1_score([0,1,2,2],[0,2,2,1], labels=[2,5], average='macro') == 0.25 (label 5 unseen: F 0)
    Classification c = new Classification(Classification.Options.builder().average("macro").labels(List.of(2, 5)).build());
    Classification.Stats s = c.newState();
    long[][] pairs = {{0, 0}, {2, 1}, {2, 2}, {1, 2}};
    for (long[] p : pairs) {
      c.add(s, p[0], p[1]);
    }
    assertEquals(0.25, c.compute(s).getDouble("f1"), 1e-15);
  }
}
