package io.sparkformers.training.models.internal;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Temporary files beside the file they will be renamed to, created as any file of the process is: mode 0666
 * minus the umask. {@code Files.createTempFile} makes them 0600, and a rename keeps that mode, so a saved model
 * would be readable by its owner only while config.json beside it is readable by all.
 */
public final class TempFiles {
  private TempFiles() {}

  /** Creates an empty {@code .<name>.<random>.tmp} in {@code target}'s folder. */
  public static Path beside(Path target) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    for (int attempt = 0; ; attempt++) {
      Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current()
          .nextLong()) + ".tmp");
      try {
        return Files.createFile(tmp);
      } catch (FileAlreadyExistsException taken) {
        if (attempt == 100) {
          throw taken;
        }
      }
    }
  }
}
