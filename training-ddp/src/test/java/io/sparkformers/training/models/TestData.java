package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Reads the reference files copied into src/test/resources/models (see the README there). */
final class TestData {
  private TestData() {}

  static Path resource(String relative) {
    try {
      return Paths.get(TestData.class.getResource("/models/" + relative).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new IllegalStateException("missing test resource models/" + relative, e);
    }
  }

  /** A folder or file of src/test/resources/hf-tiny (transformers' reference outputs, see the README there). */
  static Path hfTiny(String relative) {
    try {
      return Paths.get(TestData.class.getResource("/hf-tiny/" + relative).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new IllegalStateException("missing test resource hf-tiny/" + relative, e);
    }
  }

  static Path gpt2Tiny() {
    return resource("gpt2-tiny");
  }

  static float[] f32(String relative) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(resource(relative))).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[b.remaining() / 4];
    b.asFloatBuffer().get(out);
    return out;
  }

  static int[] i32(String relative) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(resource(relative))).order(ByteOrder.LITTLE_ENDIAN);
    int[] out = new int[b.remaining() / 4];
    b.asIntBuffer().get(out);
    return out;
  }

  static JsonObject json(String relative) throws IOException {
    return JsonParser.parseString(Files.readString(resource(relative))).getAsJsonObject();
  }

  static float[] floats(JsonElement array) {
    var a = array.getAsJsonArray();
    float[] out = new float[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsFloat();
    }
    return out;
  }

  static int[] ints(JsonElement array) {
    var a = array.getAsJsonArray();
    int[] out = new int[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).getAsInt();
    }
    return out;
  }

  static long[] longs2d(JsonElement array) {
    var rows = array.getAsJsonArray();
    int cols = rows.get(0).getAsJsonArray().size();
    long[] out = new long[rows.size() * cols];
    for (int r = 0; r < rows.size(); r++) {
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] = rows.get(r).getAsJsonArray().get(c).getAsLong();
      }
    }
    return out;
  }

  /** Largest |a−b|; fails on length mismatch. */
  static double maxAbsDiff(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length, "length");
    double max = 0;
    for (int i = 0; i < expected.length; i++) {
      double d = Math.abs((double) expected[i] - actual[i]);
      if (Double.isNaN(d)) {
        return Double.NaN;
      }
      max = Math.max(max, d);
    }
    return max;
  }
}
