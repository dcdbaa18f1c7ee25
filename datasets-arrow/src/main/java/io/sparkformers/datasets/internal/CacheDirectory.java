package io.sparkformers.datasets.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.UUID;

/**
 * Where datasets write Arrow files: an explicit folder, else {@code $SPARKFORMERS_DATASETS_CACHE}, else
 * {@code $XDG_CACHE_HOME/sparkformers/datasets}, else {@code ~/.cache/sparkformers/datasets}.
 */
public final class CacheDirectory {
  public static final String ENVIRONMENT_VARIABLE = "SPARKFORMERS_DATASETS_CACHE";

  private CacheDirectory() {}

  public static Path resolve(Path explicit) {
    if (explicit != null) {
      return explicit;
    }
    String env = System.getenv(ENVIRONMENT_VARIABLE);
    if (env != null && !env.isBlank()) {
      return Paths.get(env);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Paths.get(xdg) : Paths.get(System.getProperty("user.home"), ".cache");
    return base.resolve("sparkformers").resolve("datasets");
  }

  /** A new folder for results that are not cached; the dataset that owns it deletes it. */
  public static Path newTemporaryFolder(Path cacheDir) {
    Path folder = cacheDir.resolve("tmp-" + UUID.randomUUID());
    try {
      Files.createDirectories(folder);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot create a folder in the cache folder " + cacheDir, e);
    }
    return folder;
  }
}
