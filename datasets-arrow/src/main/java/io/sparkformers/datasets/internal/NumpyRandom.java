package io.sparkformers.datasets.internal;

/**
 * numpy's {@code np.random.default_rng(seed)}: a PCG64 generator seeded through {@code SeedSequence}, with the
 * {@code permutation} and {@code integers} methods Hugging Face datasets uses for {@code shuffle(seed)} and
 * {@code train_test_split(seed)}. Ported from numpy's published algorithms so that the same seed gives the
 * same order of rows as in Python.
 */
public final class NumpyRandom {
  // SeedSequence constants (numpy/random/bit_generator.pyx).
  private static final int INIT_A = 0x43b0d7e5;
  private static final int MULT_A = 0x931e8875;
  private static final int INIT_B = 0x8b51f9dd;
  private static final int MULT_B = 0x58f38ded;
  private static final int MIX_MULT_L = 0xca01f9dd;
  private static final int MIX_MULT_R = 0x4973f715;
  private static final int POOL_SIZE = 4;
  // PCG's default 128-bit multiplier.
  private static final long MULT_HI = 2549297995355413924L;
  private static final long MULT_LO = 4865540595714422341L;

  private long stateHi;
  private long stateLo;
  private long incHi;
  private long incLo;
  private boolean hasHalf;
  private int half;

  private NumpyRandom(NumpyRandom other) {
    this.stateHi = other.stateHi;
    this.stateLo = other.stateLo;
    this.incHi = other.incHi;
    this.incLo = other.incLo;
    this.hasHalf = other.hasHalf;
    this.half = other.half;
  }

  /** An independent generator in the same state ({@code copy.deepcopy(rng)}). */
  public NumpyRandom copy() {
    return new NumpyRandom(this);
  }

  /**
   * The generator's whole state as text ({@code bit_generator.state} of numpy: the 128-bit state and increment,
   * and the buffered half of a 64-bit draw), to be given back to {@link #fromState}.
   */
  public String state() {
    return String.format("pcg64:%016x%016x:%016x%016x:%s", stateHi, stateLo, incHi, incLo,
        hasHalf ? Integer.toHexString(half) : "-");
  }

  /** A generator in the state {@link #state()} returned; an error names what does not parse. */
  public static NumpyRandom fromState(String text) {
    String[] parts = text == null ? new String[0] : text.split(":", -1);
    if (parts.length != 4 || !parts[0].equals("pcg64") || parts[1].length() != 32 || parts[2].length() != 32) {
      throw new IllegalArgumentException("expected a generator state 'pcg64:<32 hex digits>:<32 hex digits>:<hex"
          + " or ->', got '" + text + "'");
    }
    NumpyRandom r = new NumpyRandom(0);
    try {
      r.stateHi = Long.parseUnsignedLong(parts[1].substring(0, 16), 16);
      r.stateLo = Long.parseUnsignedLong(parts[1].substring(16), 16);
      r.incHi = Long.parseUnsignedLong(parts[2].substring(0, 16), 16);
      r.incLo = Long.parseUnsignedLong(parts[2].substring(16), 16);
      r.hasHalf = !parts[3].equals("-");
      r.half = r.hasHalf ? Integer.parseUnsignedInt(parts[3], 16) : 0;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("expected a generator state 'pcg64:<32 hex digits>:<32 hex digits>:<hex"
          + " or ->', got '" + text + "'", e);
    }
    return r;
  }

  /** {@code rng.integers(low, high)}: uniform in [low, high). */
  public long integers(long low, long high) {
    if (high <= low) {
      throw new IllegalArgumentException("high <= low");
    }
    return low + bounded(high - 1 - low);
  }

  /** {@code rng.random()}: a double in [0, 1) from the top 53 bits of a draw. */
  public double random() {
    return (nextLong() >>> 11) * (1.0 / 9007199254740992.0);
  }

  /** {@code rng.choice(n, p=p)} for one draw, given the normalised cumulative sums of p. */
  public int choice(double[] cdf) {
    double u = random();
    // searchsorted(side='right'): the first index whose cdf is greater than u.
    int lo = 0;
    int hi = cdf.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (cdf[mid] <= u) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** {@code np.random.default_rng(seed)} for a non-negative seed. */
  public NumpyRandom(long seed) {
    if (seed < 0) {
      throw new IllegalArgumentException("seed must be non-negative, got " + seed);
    }
    int[] pool = seedPool(seed);
    long[] words = generateState64(pool, 4);
    long initHi = words[0];
    long initLo = words[1];
    long seqHi = words[2];
    long seqLo = words[3];
    // pcg_setseq_128_srandom_r: inc = (initseq << 1) | 1; state = 0; step; state += initstate; step.
    incHi = (seqHi << 1) | (seqLo >>> 63);
    incLo = (seqLo << 1) | 1L;
    stateHi = 0;
    stateLo = 0;
    step();
    long lo = stateLo + initLo;
    long carry = Long.compareUnsigned(lo, stateLo) < 0 ? 1 : 0;
    stateHi = stateHi + initHi + carry;
    stateLo = lo;
    step();
  }

  private static int[] seedPool(long seed) {
    int[] entropy = seed >>> 32 == 0 ? new int[] {(int) seed} : new int[] {(int) seed, (int) (seed >>> 32)};
    int[] pool = new int[POOL_SIZE];
    int[] hashConst = {INIT_A};
    for (int i = 0; i < POOL_SIZE; i++) {
      pool[i] = hashmix(i < entropy.length ? entropy[i] : 0, hashConst);
    }
    for (int src = 0; src < POOL_SIZE; src++) {
      for (int dst = 0; dst < POOL_SIZE; dst++) {
        if (src != dst) {
          pool[dst] = mix(pool[dst], hashmix(pool[src], hashConst));
        }
      }
    }
    for (int src = POOL_SIZE; src < entropy.length; src++) {
      for (int dst = 0; dst < POOL_SIZE; dst++) {
        pool[dst] = mix(pool[dst], hashmix(entropy[src], hashConst));
      }
    }
    return pool;
  }

  private static int hashmix(int value, int[] hashConst) {
    value ^= hashConst[0];
    hashConst[0] *= MULT_A;
    value *= hashConst[0];
    return value ^ (value >>> 16);
  }

  private static int mix(int x, int y) {
    int result = MIX_MULT_L * x - MIX_MULT_R * y;
    return result ^ (result >>> 16);
  }

  private static long[] generateState64(int[] pool, int n64) {
    int hashConst = INIT_B;
    int[] words = new int[n64 * 2];
    for (int i = 0; i < words.length; i++) {
      int value = pool[i % POOL_SIZE];
      value ^= hashConst;
      hashConst *= MULT_B;
      value *= hashConst;
      value ^= value >>> 16;
      words[i] = value;
    }
    long[] out = new long[n64];
    for (int i = 0; i < n64; i++) {
      out[i] = (words[2 * i] & 0xffffffffL) | ((long) words[2 * i + 1] << 32);
    }
    return out;
  }

  private void step() {
    // state = state * MULT + inc (mod 2^128).
    long lo = stateLo * MULT_LO;
    long hi = unsignedMultiplyHigh(stateLo, MULT_LO) + stateHi * MULT_LO + stateLo * MULT_HI;
    long lo2 = lo + incLo;
    long carry = Long.compareUnsigned(lo2, lo) < 0 ? 1 : 0;
    stateHi = hi + incHi + carry;
    stateLo = lo2;
  }

  private static long unsignedMultiplyHigh(long a, long b) {
    return Math.multiplyHigh(a, b) + ((a >> 63) & b) + ((b >> 63) & a);
  }

  /** The next raw 64 bits (PCG64's XSL-RR output). */
  public long nextLong() {
    step();
    return Long.rotateRight(stateHi ^ stateLo, (int) (stateHi >>> 58));
  }

  /** The next 32 bits: numpy hands out the low then the high half of one 64-bit draw. */
  public int nextInt() {
    if (hasHalf) {
      hasHalf = false;
      return half;
    }
    long next = nextLong();
    hasHalf = true;
    half = (int) (next >>> 32);
    return (int) next;
  }

  /** numpy's random_interval: uniform in [0, max] by masked rejection. */
  public long interval(long max) {
    if (max == 0) {
      return 0;
    }
    long mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask |= mask >>> 32;
    long value;
    if (max <= 0xffffffffL) {
      while ((value = (nextInt() & 0xffffffffL) & mask) > max) {
        // rejected, draw again
      }
    } else {
      while (Long.compareUnsigned(value = nextLong() & mask, max) > 0) {
        // rejected, draw again
      }
    }
    return value;
  }

  /** {@code rng.permutation(n)}: a Fisher-Yates shuffle of 0..n-1 from the last position down. */
  public long[] permutation(int n) {
    long[] a = new long[n];
    for (int i = 0; i < n; i++) {
      a[i] = i;
    }
    shuffle(a);
    return a;
  }

  /** {@code rng.shuffle(a)} in place. */
  public void shuffle(long[] a) {
    for (int i = a.length - 1; i >= 1; i--) {
      int j = (int) interval(i);
      long t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** numpy's random_bounded_uint64(0, max) without masking: Lemire's method on 32 or 64 bits. */
  public long bounded(long max) {
    if (max == 0) {
      return 0;
    }
    if (Long.compareUnsigned(max, 0xffffffffL) <= 0) {
      if (max == 0xffffffffL) {
        return nextInt() & 0xffffffffL;
      }
      long rangeExcl = max + 1;
      long m = (nextInt() & 0xffffffffL) * rangeExcl;
      long leftover = m & 0xffffffffL;
      if (leftover < rangeExcl) {
        long threshold = (0xffffffffL - max) % rangeExcl;
        while (leftover < threshold) {
          m = (nextInt() & 0xffffffffL) * rangeExcl;
          leftover = m & 0xffffffffL;
        }
      }
      return m >>> 32;
    }
    if (max == -1L) {
      return nextLong();
    }
    long rangeExcl = max + 1;
    long x = nextLong();
    long lo = x * rangeExcl;
    if (Long.compareUnsigned(lo, rangeExcl) < 0) {
      long threshold = Long.remainderUnsigned(-rangeExcl, rangeExcl);
      while (Long.compareUnsigned(lo, threshold) < 0) {
        x = nextLong();
        lo = x * rangeExcl;
      }
    }
    return unsignedMultiplyHigh(x, rangeExcl);
  }

  /** numpy's _shuffle_int: Fisher-Yates from the last position down to {@code first}, with {@link #bounded}. */
  private void shuffleInt(long[] data, int n, int first) {
    for (int i = n - 1; i >= first; i--) {
      int j = (int) bounded(i);
      long t = data[i];
      data[i] = data[j];
      data[j] = t;
    }
  }

  /** {@code rng.choice(popSize, size, replace=False)} (shuffled): the positions chosen. */
  public long[] choiceWithoutReplacement(int popSize, int size) {
    if (size > popSize || size < 0) {
      throw new IllegalArgumentException("Cannot take a larger sample than population when replace is False");
    }
    if (popSize > 10000 && size > popSize / 50) {
      long[] idx = new long[popSize];
      for (int i = 0; i < popSize; i++) {
        idx[i] = i;
      }
      shuffleInt(idx, popSize, Math.max(popSize - size, 1));
      return java.util.Arrays.copyOfRange(idx, popSize - size, popSize);
    }
    // Floyd's algorithm with numpy's open-addressing hash set.
    long[] idx = new long[size];
    long setSize = (long) (1.2 * size);
    long mask = setSize;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask |= mask >>> 32;
    long[] hashSet = new long[(int) (mask + 1)];
    java.util.Arrays.fill(hashSet, -1L);
    for (long j = popSize - size; j < popSize; j++) {
      long val = bounded(j);
      int loc = (int) (val & mask);
      while (hashSet[loc] != -1L && hashSet[loc] != val) {
        loc = (int) ((loc + 1) & mask);
      }
      if (hashSet[loc] == -1L) {
        hashSet[loc] = val;
        idx[(int) (j - popSize + size)] = val;
      } else {
        loc = (int) (j & mask);
        while (hashSet[loc] != -1L) {
          loc = (int) ((loc + 1) & mask);
        }
        hashSet[loc] = j;
        idx[(int) (j - popSize + size)] = j;
      }
    }
    shuffleInt(idx, size, 1);
    return idx;
  }
}
