package io.sparkformers.accelerate.tcp;

import java.util.ArrayList;
import java.util.List;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.Logger;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;

/** Test support: the messages one class logs through log4j (Spark's logging), while open. */
final class LogCapture extends AbstractAppender implements AutoCloseable {
  private final List<String> messages = new ArrayList<>();
  private final Logger logger;

  private LogCapture(Logger logger) {
    super("capture-" + logger.getName(), null, null, true, Property.EMPTY_ARRAY);
    this.logger = logger;
  }

  static LogCapture of(Class<?> c) {
    LogCapture capture = new LogCapture((Logger) LogManager.getLogger(c));
    capture.start();
    capture.logger.addAppender(capture);
    return capture;
  }

  @Override
  public synchronized void append(LogEvent event) {
    messages.add(event.getMessage().getFormattedMessage());
  }

  synchronized List<String> messages() {
    return new ArrayList<>(messages);
  }

  @Override
  public void close() {
    logger.removeAppender(this);
    stop();
  }
}
