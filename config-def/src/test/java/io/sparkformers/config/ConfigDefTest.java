package io.sparkformers.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigDefTest {

  enum Color implements ConfigEnum {
    NO("no"), DARK_RED("dark_red"), BLUE("blue");

    private final String value;

    Color(String value) {
      this.value = value;
    }

    @Override
    public String value() {
      return value;
    }
  }

  final ConfigDef def = new ConfigDef("data");
  final ConfigKey<Integer> size = def.define(ConfigKey.builder("block_size", ConfigTypes.INT).defaultValue(128)
      .validator(Validator.positive()).doc("tokens per block").group("Tokens"));
  final ConfigKey<Double> ratio = def.define(ConfigKey.builder("test_size", ConfigTypes.DOUBLE).defaultValue(0.2)
      .validator(Validator.of("in (0, 1)", v -> v > 0 && v < 1)).expected("a fraction in (0, 1)")
      .doc("held-out fraction"));
  final ConfigKey<Long> seed = def.define(ConfigKey.builder("seed", ConfigTypes.LONG).doc("the seed"));
  final ConfigKey<Boolean> header = def.define(ConfigKey.builder("header", ConfigTypes.BOOLEAN).defaultValue(true)
      .doc("whether the first row | names the columns"));
  final ConfigKey<Color> color = def.define(ConfigKey.builder("color", ConfigTypes.enumOf(Color.class))
      .defaultValue(Color.BLUE).doc("a color"));
  final ConfigKey<String> file = def.define(ConfigKey.builder("train_file", ConfigTypes.STRING).required()
      .doc("the file"));
  final ConfigKey<List<String>> columns = def.define(ConfigKey.builder("columns", ConfigTypes.STRING_LIST)
      .defaultDoc("every column").doc("the columns"));

  String error(Map<String, ?> raw) {
    return assertThrows(ConfigException.class, () -> def.parse("job.yaml", raw)).getMessage();
  }

  Map<String, Object> with(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("train_file", "a.csv");
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  @Test
  void defaultsFillTheKeysNotGiven() {
    ConfigDef.Values v = def.parse("job.yaml", with());
    assertEquals(128, v.get(size));
    assertEquals(0.2, v.get(ratio));
    assertNull(v.get(seed));
    assertEquals(true, v.get(header));
    assertEquals(Color.BLUE, v.get(color));
    assertEquals("a.csv", v.get(file));
    assertNull(v.get(columns));
  }

  @Test
  void valuesConvertFromYamlTypesAndStrings() {
    ConfigDef.Values v = def.parse("job.yaml", with("block_size", "256", "test_size", "0.5", "seed", 7L, "header",
        "FALSE", "color", "dark_red", "columns", List.of("a", 2)));
    assertEquals(256, v.get(size));
    assertEquals(0.5, v.get(ratio));
    assertEquals(7L, v.get(seed));
    assertEquals(false, v.get(header));
    assertEquals(Color.DARK_RED, v.get(color));
    assertEquals(List.of("a", "2"), v.get(columns));
  }

  @Test
  void valuesOnlyAnswerForTheirOwnKeys() {
    ConfigDef other = new ConfigDef("data");
    ConfigKey<Long> otherSeed = other.define(ConfigKey.builder("seed", ConfigTypes.LONG).doc("another seed"));
    ConfigDef.Values v = def.parse("job.yaml", with("seed", 3));
    assertEquals(3L, v.get(seed));
    assertThrows(IllegalArgumentException.class, () -> v.get(otherSeed));
  }

  @Test
  void optionalKeysAreUnsetByNullAndNone() {
    assertNull(def.parse("job.yaml", with("seed", "None")).get(seed));
    assertNull(def.parse("job.yaml", with("seed", null)).get(seed));
  }

  @Test
  void typeErrorsNameSourceKeyAndWhatWasExpected() {
    assertEquals("job.yaml: key 'data.block_size': expected an integer, got 'big'",
        error(with("block_size", "big")));
    assertEquals("job.yaml: key 'data.block_size': expected an integer, got '2.5'",
        error(with("block_size", 2.5)), "a fraction where a count belongs is refused");
    assertEquals("job.yaml: key 'data.block_size': expected an integer that fits 32 bits, got '4294967296'",
        error(with("block_size", 4294967296L)));
    assertEquals("job.yaml: key 'data.header': expected true or false, got 'maybe'", error(with("header", "maybe")));
    assertEquals("job.yaml: key 'data.seed': expected an integer, got '[1]'", error(with("seed", List.of(1))));
    assertEquals("job.yaml: key 'data.header': expected true or false, got 'null'", error(with("header", null)));
  }

  @Test
  void validatorsRefuseWithTheKeysPhrase() {
    assertEquals("job.yaml: key 'data.block_size': expected an integer > 0, got '0'", error(with("block_size", 0)));
    assertEquals("job.yaml: key 'data.test_size': expected a fraction in (0, 1), got '1.5'",
        error(with("test_size", 1.5)));
  }

  @Test
  void aCustomMessageReplacesTheDefaultOne() {
    ConfigDef d = new ConfigDef("");
    ConfigKey<Double> r = d.define(ConfigKey.builder("warmup_ratio", ConfigTypes.DOUBLE).defaultValue(0.0)
        .validator(Validator.between(0, 1))
        .invalidMessage((key, v) -> key + " must lie in range [0,1], got " + v).doc("warmup"));
    assertEquals("warmup_ratio must lie in range [0,1], got 1.5", r.problem(1.5));
    assertNull(r.problem(0.5));
    assertEquals("x.yaml: warmup_ratio must lie in range [0,1], got -1.0",
        assertThrows(ConfigException.class, () -> r.parse("x.yaml", -1)).getMessage());
  }

  @Test
  void unknownKeysNameTheNearestValidKey() {
    String e = error(with("blok_size", 3));
    assertTrue(e.startsWith("job.yaml: unknown key 'data.blok_size' — did you mean 'data.block_size'? (valid keys: "
        + "[block_size, test_size, seed, header, color, train_file, columns])"), e);
    assertEquals("job.yaml: unknown key 'data.zzzzzzzzzzzz' (valid keys: [block_size, test_size, seed, header, color,"
        + " train_file, columns])", error(with("zzzzzzzzzzzz", 3)));
  }

  @Test
  void requiredKeysMustBeGiven() {
    assertEquals("job.yaml: key 'data.train_file' is required", error(Map.of()));
  }

  @Test
  void enumsParseTheirStringsAndListTheValidOnes() {
    assertEquals(Color.NO, ConfigTypes.enumOf(Color.class).parse(false), "YAML 1.1 reads no as false");
    assertEquals("job.yaml: key 'data.color': dark_rd is not a valid Color, please select one of [no, dark_red,"
        + " blue] — did you mean 'dark_red'?", error(with("color", "dark_rd")));
    assertEquals("purple is not a valid Color, please select one of [no, dark_red, blue]",
        assertThrows(IllegalArgumentException.class, () -> ConfigTypes.parseEnum(Color.class, "purple"))
            .getMessage());
    assertEquals("dark_red", color.external(Color.DARK_RED));
    assertEquals("enum: no, dark_red, blue", color.type().name());
  }

  @Test
  void aSealedDefinitionTakesNoMoreKeys() {
    ConfigDef d = new ConfigDef("process_group").seal();
    assertEquals("the keys of process_group are all declared: no key can be added", assertThrows(
        IllegalStateException.class, () -> d.define(ConfigKey.builder("n", ConfigTypes.INT).doc("n"))).getMessage());
  }

  @Test
  void aKeyIsDefinedOnceAndItsDefaultMustBeValid() {
    assertThrows(IllegalStateException.class,
        () -> def.define(ConfigKey.builder("seed", ConfigTypes.LONG).doc("again")));
    assertThrows(IllegalStateException.class, () -> new ConfigDef("").define(ConfigKey.builder("n", ConfigTypes.INT)
        .defaultValue(0).validator(Validator.positive()).doc("n")));
    assertThrows(NullPointerException.class, () -> new ConfigDef("").define(ConfigKey.builder("n", ConfigTypes.INT)));
  }

  @Test
  void documentationListsTypeDefaultAndDocOfEveryKeyByGroup() {
    String text = def.toText("");
    assertTrue(text.contains("  [Tokens]\n"), text);
    assertTrue(text.contains(String.format("  %-40s %-16s default: %s%n      tokens per block%n", "data.block_size",
        "int", "128")), text);
    assertTrue(text.contains("default: required"), text);
    assertTrue(text.contains("default: every column"), text);
    assertTrue(text.contains("default: none"), text);
    String md = def.toMarkdown("");
    assertTrue(md.startsWith("**Tokens**\n\n| key | type | default | description |\n|---|---|---|---|\n"
        + "| `data.block_size` | int | 128 | tokens per block |\n"), md);
    assertTrue(md.contains("| `data.header` | boolean | true | whether the first row \\| names the columns |"), md);
  }

  @Test
  void didYouMeanUsesTheEditDistance() {
    assertEquals(3, KeyNames.distance("kitten", "sitting"));
    assertEquals(" — did you mean 'seed'?", KeyNames.didYouMean("sed", def.names()));
    assertEquals("", KeyNames.didYouMean("completely_different", def.names()));
  }
}
