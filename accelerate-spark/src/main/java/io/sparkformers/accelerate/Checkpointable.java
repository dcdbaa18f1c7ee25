package io.sparkformers.accelerate;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Per-rank state that {@link Accelerator#saveState} writes and {@link Accelerator#loadState} reads back. */
public interface Checkpointable {
  void save(OutputStream out) throws IOException;

  void load(InputStream in) throws IOException;
}
