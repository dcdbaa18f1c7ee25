package io.sparkformers.training;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** {@link MlpReference} for tests in sub-packages. */
public final class MlpReferenceAccess {
  private MlpReferenceAccess() {}

  public static Path modelFolder(Path dir) throws IOException {
    return MlpReference.modelFolder(dir);
  }

  public static ArrayData data() throws IOException {
    return MlpReference.data();
  }

  public static JsonNode expected() throws IOException {
    return MlpReference.expected();
  }

  public static TrainingArguments sgdArgs(Path out, int perDeviceBatch, long steps) {
    return MlpReference.sgdArgs(out, perDeviceBatch, steps);
  }

  public static Map<String, double[]> sumsAndNorms(PreTrainedModel model) {
    return MlpReference.sumsAndNorms(model);
  }
}
