package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * GOMP_SPINCOUNT set by the library in the C environment of a fresh JVM (a child process started without the
 * variable), a user's value kept, and the warning when libgomp is loaded before the library could act.
 */
class GompSpinCountTest {

  /** Runs {@link GompSpinCountChild} with these arguments; returns its stdout and stderr together. */
  static String runChild(String userValue, String... args) throws Exception {
    return runChild(userValue, Map.of(), args);
  }

  static String runChild(String userValue, Map<String, String> env, String... args) throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    List<String> command = new ArrayList<>(List.of(java, "-Xmx64m", "-XX:+UseSerialGC", "-cp",
        System.getProperty("java.class.path")));
    String log4j = System.getProperty("log4j2.configurationFile");
    if (log4j != null) {
      command.add("-Dlog4j2.configurationFile=" + log4j);
    }
    command.add(GompSpinCountChild.class.getName());
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove("GOMP_SPINCOUNT");
    if (userValue != null) {
      pb.environment().put("GOMP_SPINCOUNT", userValue);
    }
    pb.environment().putAll(env);
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not exit");
    String text = new String(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), text);
    return text;
  }

  @Test
  void setInTheCEnvironmentOfAFreshJvmWhereJavaCannotSeeIt() throws Exception {
    String out = runChild(null);
    assertTrue(out.contains("outcome=SET again=SET c_getenv=10000 java_getenv=null libgomp_loaded=false"), out);
    assertTrue(out.contains("GOMP_SPINCOUNT=10000 set in this process's environment"), out);
  }

  @Test
  void libgompLoadedAfterwardsReadsTheValue() throws Exception {
    Assumptions.assumeTrue(libgompOnThisMachine(), "no libgomp.so.1 on this machine");
    // OMP_DISPLAY_ENV=VERBOSE: libgomp prints the settings it read when it loaded (its default is 300000).
    String out = runChild(null, Map.of("OMP_DISPLAY_ENV", "VERBOSE"), "load-after", "libgomp.so.1");
    assertTrue(out.contains("outcome=SET again=SET c_getenv=10000 java_getenv=null libgomp_loaded=true"), out);
    assertTrue(out.contains("GOMP_SPINCOUNT = '10000'"), out);
    Path bundled = libtorchsLibgomp();
    if (bundled != null) {
      out = runChild(null, Map.of("OMP_DISPLAY_ENV", "VERBOSE"), "load-after", bundled.toString());
      assertTrue(out.contains("outcome=SET") && out.contains("GOMP_SPINCOUNT = '10000'"), out);
    }
  }

  @Test
  void aValueTheUserSetIsKept() throws Exception {
    String out = runChild("250");
    assertTrue(out.contains("outcome=KEPT again=KEPT c_getenv=250 java_getenv=250"), out);
  }

  @Test
  void tooLateOnceLibgompIsLoadedSaysHowToSetItBeforeTheJvmStarts() throws Exception {
    Assumptions.assumeTrue(libgompOnThisMachine(), "no libgomp.so.1 on this machine");
    assertTooLate(runChild(null, "load-first", "libgomp.so.1"));
  }

  @Test
  void tooLateOnceLibtorchsBundledLibgompIsLoaded() throws Exception {
    Path bundled = libtorchsLibgomp();
    Assumptions.assumeTrue(bundled != null, "libtorch is not extracted in DJL_CACHE_DIR");
    assertTooLate(runChild(null, "load-first", bundled.toString()));
  }

  /** The libgomp-HASH.so.1 DJL extracted with libtorch into the test JVMs' DJL cache, or null. */
  private static Path libtorchsLibgomp() throws Exception {
    String cache = System.getenv("DJL_CACHE_DIR");
    if (cache == null || !Files.isDirectory(Path.of(cache, "pytorch"))) {
      return null;
    }
    try (Stream<Path> files = Files.walk(Path.of(cache, "pytorch"), 2)) {
      return files.filter(f -> f.getFileName().toString().matches("libgomp-[0-9a-f]+\\.so\\.1")).findFirst()
          .orElse(null);
    }
  }

  private static void assertTooLate(String out) {
    assertTrue(out.contains("outcome=TOO_LATE again=TOO_LATE c_getenv=null java_getenv=null libgomp_loaded=true"),
        out);
    assertTrue(out.contains("WARN") && out.contains(GompSpinCount.tooLateMessage()), out);
  }

  private static boolean libgompOnThisMachine() {
    for (String dir : List.of("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib")) {
      if (Files.exists(Path.of(dir, "libgomp.so.1"))) {
        return true;
      }
    }
    return false;
  }

  @Test
  void mapsTextWithTheSystemOrLibtorchsBundledLibgomp() {
    String anonymous = "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n"
        + "7ffd5e7d1000-7ffd5e7f2000 rw-p 00000000 00:00 0                          [stack]\n";
    String libc = "7f1c2b000000-7f1c2b028000 r--p 00000000 08:01 1835 /usr/lib/x86_64-linux-gnu/libc.so.6\n";
    assertFalse(GompSpinCount.mapsListLibgomp(""));
    assertFalse(GompSpinCount.mapsListLibgomp(anonymous + libc));
    assertFalse(GompSpinCount.mapsListLibgomp(libc + "7f1c2c000000-7f1c2c001000 r--p 00000000 08:01 99 "
        + "/home/u/libgompish/notes.txt\n"));
    assertTrue(GompSpinCount.mapsListLibgomp(anonymous + "7f1c2d000000-7f1c2d00c000 r--p 00000000 08:01 2041 "
        + "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0\n" + libc));
    assertTrue(GompSpinCount.mapsListLibgomp("7f1c2e000000-7f1c2e040000 r-xp 00000000 08:01 777 "
        + "/root/.cache/sparkformers/djl/pytorch/2.7.1-cpu-linux-x86_64/libgomp-a34b3233.so.1 (deleted)"));
  }
}
