package io.sparkformers.accelerate.internal;

import org.apache.spark.TaskContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a Spark task for a kill. Spark kills the other tasks of a failed barrier stage by marking them
 * (without interrupting their threads), so a rank blocked in a socket would otherwise wait out its own timeout
 * while the retried stage waits for its slot. On a kill the watcher closes what it guards (the listening
 * endpoint during rendezvous, then the process group), which ends every accept, handshake and collective at
 * once, and interrupts the task's thread.
 */
public final class TaskKillWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskKillWatcher.class);
  private static final long POLL_MILLIS = 100;

  private final TaskContext task;
  private final int rank;
  private final Thread taskThread;
  private final Thread watcher;
  private volatile AutoCloseable guarded;
  private volatile boolean done;

  private TaskKillWatcher(TaskContext task, int rank) {
    this.task = task;
    this.rank = rank;
    this.taskThread = Thread.currentThread();
    this.watcher = new Thread(this::watch, "sparkformers-kill-watcher-rank-" + rank);
    watcher.setDaemon(true);
  }

  /** Starts watching {@code task}, run by the calling thread. */
  public static TaskKillWatcher start(TaskContext task, int rank) {
    TaskKillWatcher w = new TaskKillWatcher(task, rank);
    w.watcher.start();
    return w;
  }

  /** What to close on a kill (replacing what was guarded before); closed at once if the kill came already. */
  public void guard(AutoCloseable resource) {
    guarded = resource;
    if (task.isInterrupted()) {
      closeGuarded();
    }
  }

  private void watch() {
    while (!done) {
      if (task.isInterrupted()) {
        String reason = task.getKillReason().isDefined() ? task.getKillReason().get() : "killed";
        LOG.warn("rank {}: Spark killed this task ({}); closing its connections", rank, reason);
        closeGuarded();
        synchronized (this) {
          if (!done) { // never interrupt the thread once the task is over: Spark reuses it
            taskThread.interrupt();
          }
        }
        return;
      }
      try {
        Thread.sleep(POLL_MILLIS);
      } catch (InterruptedException e) {
        return; // close() stops the watcher
      }
    }
  }

  private void closeGuarded() {
    AutoCloseable g = guarded;
    if (g != null) {
      try {
        g.close();
      } catch (Exception e) {
        LOG.debug("rank {}: closing after a kill: {}", rank, e.toString());
      }
    }
  }

  /** Stops watching (the task ends). */
  @Override
  public void close() {
    synchronized (this) {
      done = true;
    }
    watcher.interrupt();
  }
}
