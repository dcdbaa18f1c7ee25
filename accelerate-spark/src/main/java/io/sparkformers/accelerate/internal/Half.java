package io.sparkformers.accelerate.internal;

/**
 * IEEE 754 binary16 to and from float, rounding to nearest even (what PyTorch does when it stores a float
 * result in a half tensor). Java 17 has no Float.float16ToFloat.
 */
public final class Half {
  private Half() {}

  public static float toFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      // Subnormal: mant * 2^-24, exact in float.
      float v = mant * 0x1p-24f;
      return sign == 0 ? v : -v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  public static short fromFloat(float f) {
    int bits = Float.floatToRawIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int abs = bits & 0x7fffffff;
    if (abs >= 0x7f800000) {
      // Inf stays Inf; NaN stays a (quiet) NaN.
      return (short) (sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 | ((abs >>> 13) & 0x3ff) : 0));
    }
    if (abs >= 0x477ff000) {
      // >= 65520 rounds to infinity.
      return (short) (sign | 0x7c00);
    }
    if (abs < 0x38800000) {
      // Result is subnormal or zero: round abs / 2^-24 to nearest even integer.
      if (abs < 0x33000000) {
        return (short) sign; // below half the smallest subnormal (2^-25): rounds to zero
      }
      int exp = abs >>> 23;
      int mant = (abs & 0x7fffff) | 0x800000;
      int shift = 126 - exp; // value = mant * 2^(exp-150); in units of 2^-24: mant >> (126-exp)
      int result = mant >>> shift;
      int rem = mant & ((1 << shift) - 1);
      int half = 1 << (shift - 1);
      if (rem > half || (rem == half && (result & 1) != 0)) {
        result++;
      }
      return (short) (sign | result);
    }
    // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even.
    int rounded = abs - 0x38000000; // exponent 127 -> 15
    int dropped = rounded & 0x1fff;
    int result = rounded >>> 13;
    if (dropped > 0x1000 || (dropped == 0x1000 && (result & 1) != 0)) {
      result++; // may carry into the exponent, which is right (up to 0x7c00 = Inf)
    }
    return (short) (sign | result);
  }
}
