package io.sparkformers.datasets.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * Hugging Face's {@code stratified_shuffle_split_generate_indices} (a port of scikit-learn's
 * {@code StratifiedShuffleSplit} with {@code _approximate_mode}), first split only, drawing from the same
 * numpy generator so that a seed gives the rows Python gives.
 */
public final class Stratified {
  private Stratified() {}

  /** {train rows, test rows} for class labels {@code y}. */
  public static long[][] split(List<Object> y, int nTrain, int nTest, NumpyRandom rng, String column) {
    // np.unique(y, return_inverse=True): classes sorted.
    TreeMap<Object, Integer> classIds = new TreeMap<>((a, b) -> compare(a, b, column));
    for (int i = 0; i < y.size(); i++) {
      if (y.get(i) == null) {
        throw new IllegalArgumentException("Column '" + column + "' is null at row " + i
            + "; stratification needs a class for every row");
      }
      classIds.putIfAbsent(y.get(i), 0);
    }
    int k = 0;
    for (Object c : classIds.keySet()) {
      classIds.put(c, k++);
    }
    int nClasses = classIds.size();
    long[] counts = new long[nClasses];
    int[] yIndex = new int[y.size()];
    for (int i = 0; i < y.size(); i++) {
      yIndex[i] = classIds.get(y.get(i));
      counts[yIndex[i]]++;
    }
    for (long c : counts) {
      if (c < 2) {
        throw new IllegalArgumentException("The least populated class in column '" + column
            + "' has only 1 member, which is too few: the minimum number of groups for any class cannot be"
            + " less than 2");
      }
    }
    if (nTrain < nClasses) {
      throw new IllegalArgumentException("The train_size = " + nTrain
          + " should be greater or equal to the number of classes = " + nClasses);
    }
    if (nTest < nClasses) {
      throw new IllegalArgumentException("The test_size = " + nTest
          + " should be greater or equal to the number of classes = " + nClasses);
    }
    // Rows of each class in row order (a stable argsort of the class ids).
    List<List<Long>> classRows = new ArrayList<>();
    for (int c = 0; c < nClasses; c++) {
      classRows.add(new ArrayList<>());
    }
    for (int i = 0; i < yIndex.length; i++) {
      classRows.get(yIndex[i]).add((long) i);
    }
    long[] nI = approximateMode(counts, nTrain, rng);
    long[] remaining = new long[nClasses];
    for (int c = 0; c < nClasses; c++) {
      remaining[c] = counts[c] - nI[c];
    }
    long[] tI = approximateMode(remaining, nTest, rng);
    List<Long> train = new ArrayList<>();
    List<Long> test = new ArrayList<>();
    for (int c = 0; c < nClasses; c++) {
      long[] perm = rng.permutation((int) counts[c]);
      List<Long> rows = classRows.get(c);
      for (int p = 0; p < nI[c]; p++) {
        train.add(rows.get((int) perm[p]));
      }
      for (long p = nI[c]; p < nI[c] + tI[c]; p++) {
        test.add(rows.get((int) perm[(int) p]));
      }
    }
    long[] trainArr = train.stream().mapToLong(Long::longValue).toArray();
    long[] testArr = test.stream().mapToLong(Long::longValue).toArray();
    rng.shuffle(trainArr);
    rng.shuffle(testArr);
    return new long[][] {trainArr, testArr};
  }

  @SuppressWarnings("unchecked")
  private static int compare(Object a, Object b, String column) {
    if (a.getClass() != b.getClass() || !(a instanceof Comparable)) {
      throw new IllegalArgumentException("Column '" + column + "' cannot be used to stratify: values "
          + a + " and " + b + " are not comparable");
    }
    return ((Comparable<Object>) a).compareTo(b);
  }

  static long[] approximateMode(long[] classCounts, long nDraws, NumpyRandom rng) {
    long total = Arrays.stream(classCounts).sum();
    int n = classCounts.length;
    double[] continuous = new double[n];
    long[] floored = new long[n];
    double flooredSum = 0;
    for (int i = 0; i < n; i++) {
      continuous[i] = nDraws * (double) classCounts[i] / total;
      floored[i] = (long) Math.floor(continuous[i]);
      flooredSum += Math.floor(continuous[i]);
    }
    long needToAdd = (long) (nDraws - flooredSum);
    if (needToAdd > 0) {
      double[] remainder = new double[n];
      for (int i = 0; i < n; i++) {
        remainder[i] = continuous[i] - Math.floor(continuous[i]);
      }
      double[] values = Arrays.stream(remainder).distinct().sorted().toArray();
      for (int v = values.length - 1; v >= 0 && needToAdd > 0; v--) {
        List<Integer> inds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          if (remainder[i] == values[v]) {
            inds.add(i);
          }
        }
        int addNow = (int) Math.min(inds.size(), needToAdd);
        for (long chosen : rng.choiceWithoutReplacement(inds.size(), addNow)) {
          floored[inds.get((int) chosen)]++;
        }
        needToAdd -= addNow;
      }
    }
    return floored;
  }
}
