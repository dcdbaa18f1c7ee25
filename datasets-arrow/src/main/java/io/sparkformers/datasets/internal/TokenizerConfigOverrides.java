package io.sparkformers.datasets.internal;

import static io.sparkformers.datasets.internal.TokenizerJsonNodes.sequence;
import static io.sparkformers.datasets.internal.TokenizerJsonNodes.special;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * What transformers changes in a {@code tokenizer.json} from its {@code tokenizer_config.json} when it loads a
 * fast tokenizer: tokens of {@code added_tokens_decoder} that tokenizer.json lacks are added, and
 * {@code add_bos_token}/{@code add_eos_token} rebuild the post-processor as LlamaTokenizerFast's
 * {@code update_post_processor} does (bos, the text, eos, each by its flag; a flag the config leaves out takes
 * Llama's default: bos on, eos off).
 */
public final class TokenizerConfigOverrides {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TokenizerConfigOverrides() {}

  /** The tokenizer.json to load: {@code tokenizerJson} itself when the config changes nothing. */
  public static byte[] apply(byte[] tokenizerJson, JsonNode config, String bosToken, String eosToken,
      String source) throws IOException {
    boolean flags = config.has("add_bos_token") || config.has("add_eos_token");
    JsonNode decoder = config.path("added_tokens_decoder");
    if (!flags && !decoder.isObject()) {
      return tokenizerJson;
    }
    ObjectNode root = (ObjectNode) JSON.readTree(tokenizerJson);
    boolean changed = false;
    if (decoder.isObject()) {
      ArrayNode added = root.has("added_tokens") && root.get("added_tokens").isArray()
          ? (ArrayNode) root.get("added_tokens") : root.putArray("added_tokens");
      Set<String> present = new HashSet<>();
      added.forEach(t -> present.add(t.path("content").asText()));
      Iterator<Map.Entry<String, JsonNode>> it = decoder.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        JsonNode t = e.getValue();
        String content = t.path("content").asText(null);
        if (content == null || present.contains(content)) {
          continue;
        }
        int id;
        try {
          id = Integer.parseInt(e.getKey());
        } catch (NumberFormatException bad) {
          throw new IllegalArgumentException(source + ": added_tokens_decoder key '" + e.getKey()
              + "' is not a token id");
        }
        boolean isSpecial = t.path("special").asBoolean(false);
        ObjectNode token = added.addObject();
        token.put("id", id);
        token.put("content", content);
        token.put("single_word", t.path("single_word").asBoolean(false));
        token.put("lstrip", t.path("lstrip").asBoolean(false));
        token.put("rstrip", t.path("rstrip").asBoolean(false));
        token.put("normalized", t.path("normalized").asBoolean(!isSpecial));
        token.put("special", isSpecial);
        present.add(content);
        changed = true;
      }
    }
    if (flags) {
      boolean addBos = config.path("add_bos_token").asBoolean(true);
      boolean addEos = config.path("add_eos_token").asBoolean(false);
      Map<String, Integer> ids = ids(root);
      ObjectNode post = JSON.createObjectNode();
      post.put("type", "TemplateProcessing");
      ArrayNode single = post.putArray("single");
      ArrayNode pair = post.putArray("pair");
      ObjectNode specials = post.putObject("special_tokens");
      String bos = addBos ? required(bosToken, "add_bos_token", "bos_token", ids, source, specials) : null;
      String eos = addEos ? required(eosToken, "add_eos_token", "eos_token", ids, source, specials) : null;
      // single: bos A eos; pair: the same, then bos B eos with type id 1.
      for (int pairs = 0; pairs < 2; pairs++) {
        ArrayNode into = pairs == 0 ? single : pair;
        for (int typeId = 0; typeId <= pairs; typeId++) {
          if (bos != null) {
            special(into, bos, typeId);
          }
          sequence(into, typeId == 0 ? "A" : "B", typeId);
          if (eos != null) {
            special(into, eos, typeId);
          }
        }
      }
      root.set("post_processor", post);
      changed = true;
    }
    return changed ? JSON.writeValueAsBytes(root) : tokenizerJson;
  }

  private static String required(String token, String flag, String name, Map<String, Integer> ids, String source,
      ObjectNode specials) {
    if (token == null) {
      throw new IllegalArgumentException(source + ": " + flag + " is true but there is no " + name);
    }
    Integer id = ids.get(token);
    if (id == null) {
      throw new IllegalArgumentException(source + ": " + name + " '" + token + "' is not in the vocabulary");
    }
    ObjectNode s = specials.putObject(token);
    s.put("id", token);
    s.putArray("ids").add(id);
    s.putArray("tokens").add(token);
    return token;
  }

  /** Token → id of the model's vocabulary (an object, or Unigram's [piece, score] list) and the added tokens. */
  private static Map<String, Integer> ids(JsonNode root) {
    Map<String, Integer> ids = new HashMap<>();
    JsonNode vocab = root.path("model").path("vocab");
    if (vocab.isObject()) {
      vocab.fields().forEachRemaining(e -> ids.put(e.getKey(), e.getValue().asInt()));
    } else if (vocab.isArray()) {
      for (int i = 0; i < vocab.size(); i++) {
        ids.put(vocab.get(i).get(0).asText(), i);
      }
    }
    root.path("added_tokens").forEach(t -> ids.put(t.path("content").asText(), t.path("id").asInt()));
    return ids;
  }
}
