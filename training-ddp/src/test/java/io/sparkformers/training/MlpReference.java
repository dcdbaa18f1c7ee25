package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.SafeTensorsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The PyTorch SGD reference of test resources trainer/torch-sgd-mlp (see the README there). */
final class MlpReference {
  static final String[] NAMES = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"};
  static final long[][] SHAPES = {{512, 784}, {512}, {512, 512}, {512}, {10, 512}, {10}};
  static final int ROWS = 640;

  private MlpReference() {}

  static byte[] resource(String name) throws IOException {
    try (InputStream in = MlpReference.class.getResourceAsStream("/trainer/torch-sgd-mlp/" + name)) {
      if (in == null) {
        throw new IOException("missing test resource trainer/torch-sgd-mlp/" + name);
      }
      return in.readAllBytes();
    }
  }

  /** A Hugging Face model folder (config.json, model.safetensors) holding the reference's initial weights. */
  static Path modelFolder(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"mlp\", \"input_size\": 784, "
        + "\"hidden_sizes\": [512, 512], \"num_labels\": 10, \"hidden_act\": \"relu\"}");
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      for (int i = 0; i < NAMES.length; i++) {
        float[] values = new float[Math.toIntExact(new Shape(SHAPES[i]).size())];
        ByteBuffer.wrap(resource("init/" + NAMES[i] + ".f32")).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
            .get(values);
        tensors.put(NAMES[i], m.create(values, new Shape(SHAPES[i])));
      }
      SafeTensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    }
    return dir;
  }

  /** The reference rows: features (640 × 784) and labels. */
  static ArrayData data() throws IOException {
    float[] x = new float[ROWS * 784];
    ByteBuffer.wrap(resource("data/x.f32")).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(x);
    int[] y = new int[ROWS];
    ByteBuffer.wrap(resource("data/y.i32")).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(y);
    long[] labels = new long[ROWS];
    for (int i = 0; i < ROWS; i++) {
      labels[i] = y[i];
    }
    return ArrayData.builder().floats("features", x, 784).longs("labels", labels, 1).build();
  }

  static JsonNode expected() throws IOException {
    return new ObjectMapper().readTree(resource("reference.json"));
  }

  /** Plain SGD at lr 0.1, in row order, no clipping, constant rate: the reference's training. */
  static TrainingArguments sgdArgs(Path out, int perDeviceBatch, long steps) {
    return TrainingArguments.builder(out.toString()).optim("sgd").learningRate(0.1)
        .lrSchedulerType("constant").maxGradNorm(0).perDeviceTrainBatchSize(perDeviceBatch).maxSteps(steps)
        .loggingSteps(1).saveStrategy("no").disableTqdm(true).build();
  }

  /** Asserts the reference's tolerances on the checksums after step 4: L2 rel 1e-5, sum abs 1e-4·L2. */
  static void assertChecksums(JsonNode expected, PreTrainedModel model) {
    Map<String, Parameter> params = model.namedParameters();
    for (String name : NAMES) {
      double[] w = toDoubles(params.get(name).getArray().toFloatArray());
      double sum = 0;
      double sq = 0;
      for (double v : w) {
        sum += v;
        sq += v * v;
      }
      double l2 = Math.sqrt(sq);
      double eL2 = expected.get(name).get("l2").asDouble();
      assertEquals(eL2, l2, 1e-5 * eL2, name + " L2 norm");
      assertEquals(expected.get(name).get("sum").asDouble(), sum, 1e-4 * eL2, name + " sum");
    }
  }

  /** Per parameter: {sum, L2 norm} in double, over the float32 weights. */
  static Map<String, double[]> sumsAndNorms(PreTrainedModel model) {
    Map<String, double[]> out = new LinkedHashMap<>();
    for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
      double sum = 0;
      double sq = 0;
      for (float v : e.getValue().getArray().toFloatArray()) {
        sum += v;
        sq += (double) v * v;
      }
      out.put(e.getKey(), new double[] {sum, Math.sqrt(sq)});
    }
    return out;
  }

  static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }
}
