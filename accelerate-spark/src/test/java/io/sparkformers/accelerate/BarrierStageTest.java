package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.Function1;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/** Proves the stack: a Spark barrier stage of two tasks on local[2] exchanges values through allGather. */
class BarrierStageTest {
  private static JavaSparkContext sc;

  @BeforeAll
  static void startSpark() {
    sc = LocalSpark.start(2, "barrier-stage-test");
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  /** Each task publishes "partition:square" and returns everything it gathered. */
  private static Iterator<String> gatherSquares(Iterator<Integer> partition) {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    int value = partition.next();
    String[] all = ctx.allGather(ctx.partitionId() + ":" + value * value);
    return List.of(ctx.partitionId() + "=" + String.join(",", all)).iterator();
  }

  @Test
  void twoBarrierTasksSeeEachOthersValuesInPartitionOrder() {
    Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<String>> f =
        (Function1<scala.collection.Iterator<Integer>, scala.collection.Iterator<String>> & Serializable)
            it -> JavaConverters.asScalaIteratorConverter(gatherSquares(JavaConverters.asJavaIteratorConverter(it).asJava())).asScala();
    ClassTag<String> tag = ClassTag$.MODULE$.apply(String.class);
    String[] results =
        (String[]) sc.parallelize(Arrays.asList(3, 5), 2).rdd().barrier().mapPartitions(f, false, tag).collect();
    Arrays.sort(results);
    assertEquals(List.of("0=0:9,1:25", "1=0:9,1:25"), Arrays.asList(results));
  }
}
