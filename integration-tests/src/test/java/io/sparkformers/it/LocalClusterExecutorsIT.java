package io.sparkformers.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/** Proves that the integration suite runs on real executor JVMs, separate from the driver and each other. */
class LocalClusterExecutorsIT {

  @Test
  void twoExecutorsRunInTwoProcessesOtherThanTheDriver() {
    long driverPid = ProcessHandle.current().pid();
    JavaSparkContext sc = LocalClusterSpark.start(
        LocalClusterSpark.conf(2, 1, 1024, "local-cluster-executors-it"), 2, Duration.ofSeconds(90));
    try {
      // Four tasks over two single-core executors; each reports the pid and executor id it ran in.
      List<String> seen = sc.parallelize(Arrays.asList(0, 1, 2, 3), 4)
          .map(i -> ProcessHandle.current().pid() + "@" + org.apache.spark.SparkEnv.get().executorId())
          .collect();
      Set<Long> pids = new TreeSet<>();
      Set<String> executorIds = new TreeSet<>();
      for (String s : seen) {
        pids.add(Long.parseLong(s.substring(0, s.indexOf('@'))));
        executorIds.add(s.substring(s.indexOf('@') + 1));
      }
      System.out.println("driver pid " + driverPid + ", executor pids " + pids + ", executor ids " + executorIds);
      assertEquals(2, pids.size(), "executor pids " + seen);
      assertFalse(pids.contains(driverPid), "a task ran in the driver JVM: " + seen);
      assertEquals(Set.of("0", "1"), executorIds);
    } finally {
      sc.stop();
    }
  }
}
