package io.sparkformers.accelerate;

import java.io.Serializable;

/**
 * What each rank runs inside a barrier task ({@link BarrierLauncher}). It is serialised to the executors,
 * so it must capture only serialisable values. Rank 0's return value comes back to the driver.
 *
 * @param <T> the result type; must be serialisable by Spark's serializer (may be null)
 */
@FunctionalInterface
public interface RankFunction<T> extends Serializable {
  T apply(RankContext context) throws Exception;
}
