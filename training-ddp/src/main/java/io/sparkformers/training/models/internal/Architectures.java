package io.sparkformers.training.models.internal;

import io.sparkformers.training.models.ModelArchitecture;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The registered {@link ModelArchitecture}s by {@code model_type}, found through {@link ServiceLoader}. */
public final class Architectures {
  private Architectures() {}

  /** Every registered architecture by model_type, sorted; two registered under one model_type are an error. */
  public static Map<String, ModelArchitecture> all() {
    Map<String, ModelArchitecture> byType = new TreeMap<>();
    ClassLoader loader = Architectures.class.getClassLoader();
    for (ModelArchitecture a : ServiceLoader.load(ModelArchitecture.class, loader)) {
      ModelArchitecture before = byType.put(a.modelType(), a);
      if (before != null && before.getClass() != a.getClass()) {
        throw new IllegalStateException("model_type '" + a.modelType() + "' is registered twice: by "
            + before.getClass().getName() + " and " + a.getClass().getName());
      }
    }
    return byType;
  }

  /** The architecture of {@code modelType}; unknown types are an error listing the registered ones. */
  public static ModelArchitecture named(String modelType, String source) {
    Map<String, ModelArchitecture> all = all();
    ModelArchitecture a = all.get(modelType);
    if (a == null) {
      throw new IllegalArgumentException(source + ": unknown model_type '" + modelType + "', expected one of "
          + all.keySet());
    }
    return a;
  }
}
