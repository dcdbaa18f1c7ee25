package io.sparkformers.accelerate.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * float16 conversion against a plain reference: every half value is exact in float, so the nearest half of a
 * float is found by a binary search over the sorted positive halves, ties going to the even one (IEEE 754
 * round to nearest even, what PyTorch does when it stores a float in a half tensor).
 */
class HalfTest {

  /** The reference: nearest finite half by search; beyond the largest half, IEEE overflow rules. */
  static short reference(float f) {
    if (Float.isNaN(f)) {
      return (short) 0x7e00;
    }
    int sign = (Float.floatToRawIntBits(f) >>> 16) & 0x8000;
    float a = Math.abs(f);
    // 65520 = 65504 + half an ulp (16): from there on, round to nearest even gives infinity.
    if (a >= 65520f) {
      return (short) (sign | 0x7c00);
    }
    int lo = 0;
    int hi = 0x7bff;
    while (lo < hi) { // the largest half <= a
      int mid = (lo + hi + 1) >>> 1;
      if (Half.toFloat((short) mid) <= a) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    int below = lo;
    if (Half.toFloat((short) below) == a || below == 0x7bff) {
      return (short) (sign | below);
    }
    int above = below + 1;
    double dBelow = a - (double) Half.toFloat((short) below);
    double dAbove = (double) Half.toFloat((short) above) - a;
    int pick = dBelow < dAbove ? below : dAbove < dBelow ? above : ((below & 1) == 0 ? below : above);
    return (short) (sign | pick);
  }

  @Test
  void everyHalfSurvivesTheRoundTripAndDecodesByTheFormula() {
    for (int h = 0; h < 0x10000; h++) {
      int exp = (h >>> 10) & 0x1f;
      int mant = h & 0x3ff;
      float v = Half.toFloat((short) h);
      if (exp == 0x1f) {
        assertTrue(mant == 0 ? Float.isInfinite(v) : Float.isNaN(v), Integer.toHexString(h));
        continue;
      }
      double expect = exp == 0 ? mant * Math.pow(2, -24) : (1 + mant / 1024.0) * Math.pow(2, exp - 15);
      assertEquals((h & 0x8000) != 0 ? -expect : expect, v, 0.0, Integer.toHexString(h));
      assertEquals(h, Half.fromFloat(v) & 0xffff, Integer.toHexString(h));
    }
  }

  @Test
  void floatsRoundToTheNearestHalfWithTiesToEven() {
    Random random = new Random(7);
    for (int i = 0; i < 200_000; i++) {
      float f = switch (i % 4) {
        case 0 -> (random.nextFloat() - 0.5f) * 140_000f; // normal range and overflow
        case 1 -> (random.nextFloat() - 0.5f) * 1e-4f; // subnormals of half
        case 2 -> Float.intBitsToFloat(random.nextInt()); // any bits
        default -> { // exact ties: halfway between two adjacent halves
          int h = random.nextInt(0x7bff);
          yield (float) ((Half.toFloat((short) h) + (double) Half.toFloat((short) (h + 1))) / 2);
        }
      };
      short want = reference(f);
      short got = Half.fromFloat(f);
      if (Float.isNaN(f)) {
        assertTrue(Float.isNaN(Half.toFloat(got)), "NaN " + f);
      } else {
        assertEquals(want & 0xffff, got & 0xffff, "float " + f + " (" + Integer.toHexString(Float.floatToRawIntBits(f))
            + ")");
      }
    }
  }

  @Test
  void knownValues() {
    assertEquals(0x3c00, Half.fromFloat(1f) & 0xffff);
    assertEquals(0x7bff, Half.fromFloat(65504f) & 0xffff);
    assertEquals(0x7bff, Half.fromFloat(65519.99f) & 0xffff);
    assertEquals(0x7c00, Half.fromFloat(65520f) & 0xffff);
    assertEquals(0x0001, Half.fromFloat(0x1p-24f) & 0xffff);
    assertEquals(0x0000, Half.fromFloat(0x1p-25f) & 0xffff); // a tie with zero: to even
    assertEquals(0x0001, Half.fromFloat(0x1.8p-25f) & 0xffff);
    assertEquals(0x3c00, Half.fromFloat(1f + 0x1p-11f) & 0xffff); // tie: 1.0 is even
    assertEquals(0x3c02, Half.fromFloat(1f + 0x3p-11f) & 0xffff); // tie: 1+2^-9 is even
    assertEquals(0x8000, Half.fromFloat(-0f) & 0xffff);
    assertEquals(0xfc00, Half.fromFloat(Float.NEGATIVE_INFINITY) & 0xffff);
  }
}
