package io.sparkformers.config;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The keys of one configuration section, each declared once, in the order they are documented. Parses a
 * section of a config file against them, and renders their documentation (plain text for a terminal, Markdown
 * for a README).
 *
 * <pre>{@code
 * ConfigDef def = new ConfigDef("data");
 * ConfigKey<Integer> maxSeqLength = def.define(ConfigKey.builder("max_seq_length", ConfigTypes.INT)
 *     .defaultValue(128).validator(Validator.positive()).doc("truncate and pad to this many tokens"));
 * int n = def.parse("job.yaml", Map.of("max_seq_length", 256)).get(maxSeqLength);
 * }</pre>
 */
public final class ConfigDef {
  private final String prefix;
  private final Map<String, ConfigKey<?>> keys = new LinkedHashMap<>();
  private boolean sealed;

  /** @param prefix the section's name, which errors and documentation put before each key; "" for none */
  public ConfigDef(String prefix) {
    this.prefix = prefix;
  }

  public String prefix() {
    return prefix;
  }

  /** Declares a key of this section. */
  public <T> ConfigKey<T> define(ConfigKey.Builder<T> builder) {
    if (sealed) {
      throw new IllegalStateException("the keys of " + (prefix.isEmpty() ? "this section" : prefix)
          + " are all declared: no key can be added");
    }
    ConfigKey<T> key = builder.build(prefix);
    if (keys.putIfAbsent(key.name(), key) != null) {
      throw new IllegalStateException("key " + key.path() + " is defined twice");
    }
    return key;
  }

  /** Ends the declarations, so that a definition handed out is read-only. */
  public ConfigDef seal() {
    sealed = true;
    return this;
  }

  /** Every key, in declaration order. */
  public Collection<ConfigKey<?>> keys() {
    return Collections.unmodifiableCollection(keys.values());
  }

  /** Every key's name, in declaration order. */
  public Set<String> names() {
    return Collections.unmodifiableSet(keys.keySet());
  }

  /** The key named {@code name}, or null. */
  public ConfigKey<?> find(String name) {
    return keys.get(name);
  }

  /** The key named {@code name}, or an error naming {@code where} and the nearest valid key. */
  public ConfigKey<?> require(String where, String name) {
    ConfigKey<?> key = keys.get(name);
    if (key == null) {
      throw unknownKey(where, name);
    }
    return key;
  }

  /** The error for an unknown key: it names the nearest valid key, if one is near, and lists the valid ones. */
  public ConfigException unknownKey(String where, String name) {
    String nearest = KeyNames.nearest(name, keys.keySet());
    return new ConfigException(where + ": unknown key '" + path(name) + "'"
        + (nearest == null ? "" : " — did you mean '" + path(nearest) + "'?") + " (valid keys: " + names() + ")");
  }

  /**
   * The values of a section as a config file holds it: every given key converted and checked, and the default of
   * every key not given. An unknown key, a missing required key or a bad value is an error naming {@code where}
   * and the key.
   */
  public Values parse(String where, Map<String, ?> raw) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (String name : raw.keySet()) {
      require(where, name);
    }
    for (ConfigKey<?> key : keys.values()) {
      if (raw.containsKey(key.name())) {
        out.put(key.name(), key.parse(where, raw.get(key.name())));
      } else if (key.required()) {
        throw new ConfigException(where + ": key '" + key.path() + "' is required");
      } else {
        out.put(key.name(), key.defaultValue());
      }
    }
    return new Values(this, out);
  }

  private String path(String name) {
    return prefix.isEmpty() ? name : prefix + "." + name;
  }

  /**
   * The documentation as plain text: per group, each key's path (after {@code displayPrefix}, e.g.
   * {@code "training_args."}), type and default, then its documentation on the next line.
   */
  public String toText(String displayPrefix) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, List<ConfigKey<?>>> group : groups().entrySet()) {
      if (!group.getKey().isEmpty()) {
        out.append("  [").append(group.getKey()).append("]\n");
      }
      for (ConfigKey<?> k : group.getValue()) {
        out.append(String.format("  %-40s %-16s default: %s%n", displayPrefix + k.path(), k.type().name(),
            k.defaultText()));
        out.append("      ").append(k.doc()).append('\n');
      }
    }
    return out.toString();
  }

  /** The documentation as Markdown: per group a bold line, then a table of key, type, default, description. */
  public String toMarkdown(String displayPrefix) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, List<ConfigKey<?>>> group : groups().entrySet()) {
      if (!group.getKey().isEmpty()) {
        out.append("**").append(group.getKey()).append("**\n\n");
      }
      out.append("| key | type | default | description |\n|---|---|---|---|\n");
      for (ConfigKey<?> k : group.getValue()) {
        out.append("| `").append(displayPrefix).append(k.path()).append("` | ").append(cell(k.type().name()))
            .append(" | ").append(cell(k.defaultText())).append(" | ").append(cell(k.doc())).append(" |\n");
      }
      out.append('\n');
    }
    return out.toString();
  }

  private Map<String, List<ConfigKey<?>>> groups() {
    Map<String, List<ConfigKey<?>>> groups = new LinkedHashMap<>();
    for (ConfigKey<?> k : keys.values()) {
      groups.computeIfAbsent(k.group(), g -> new ArrayList<>()).add(k);
    }
    return groups;
  }

  private static String cell(String text) {
    return text.replace("|", "\\|").replace("\n", " ");
  }

  /** The parsed values of a section, by key. */
  public static final class Values {
    private final ConfigDef def;
    private final Map<String, Object> values;

    private Values(ConfigDef def, Map<String, Object> values) {
      this.def = def;
      this.values = values;
    }

    @SuppressWarnings("unchecked")
    public <T> T get(ConfigKey<T> key) {
      if (def.keys.get(key.name()) != key) {
        throw new IllegalArgumentException("key " + key.path() + " is not of this section");
      }
      return (T) values.get(key.name());
    }

    /** The values as a map from name to value, in declaration order. */
    public Map<String, Object> asMap() {
      return Collections.unmodifiableMap(values);
    }
  }

  /** The names of several sections' keys together (for suggestions across sections). */
  public static Set<String> names(ConfigDef... defs) {
    Set<String> out = new LinkedHashSet<>();
    for (ConfigDef d : defs) {
      out.addAll(d.names());
    }
    return out;
  }
}
