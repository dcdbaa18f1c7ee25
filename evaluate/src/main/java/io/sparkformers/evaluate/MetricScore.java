package io.sparkformers.evaluate;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A metric's typed result, as {@link Metrics} returns it. Every one also gives the reference tool's names and
 * order ({@link #asMap()}, {@link #toJson()}), as Hugging Face {@code evaluate} returns a dict.
 */
public interface MetricScore {
  /** The same values as the metric's {@link MetricResult}: what the Spark aggregations and the CLI report. */
  MetricResult toResult();

  /**
   * The values under the reference tool's names, in its order; nested results (ROUGE's per type) as nested
   * maps. Unmodifiable.
   */
  default Map<String, Object> asMap() {
    return plain(toResult());
  }

  /** JSON, as {@link MetricResult#toJson()} writes it. */
  default String toJson() {
    return toResult().toJson();
  }

  private static Map<String, Object> plain(MetricResult r) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : r.asMap().entrySet()) {
      Object v = e.getValue();
      if (v instanceof MetricResult nested) {
        v = plain(nested);
      } else if (v instanceof List<?> list) {
        v = Collections.unmodifiableList(new ArrayList<>(list));
      }
      out.put(e.getKey(), v);
    }
    return Collections.unmodifiableMap(out);
  }
}
