package io.sparkformers.datasets.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Pieces of a Hugging Face {@code tokenizer.json} shared by the files we write (trained tokenizers and GPT-2's
 * converted vocabulary), so both spell them the same way the Rust tokenizers library reads them.
 */
public final class TokenizerJsonNodes {
  private TokenizerJsonNodes() {}

  /** A {@code ByteLevel} pre-tokenizer, post-processor or decoder (GPT-2's regex on). */
  public static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets) {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("type", "ByteLevel");
    n.put("add_prefix_space", addPrefixSpace);
    n.put("trim_offsets", trimOffsets);
    n.put("use_regex", true);
    return n;
  }

  /** A {@code SpecialToken} step of a template post-processor. */
  public static void special(ArrayNode into, String id, int typeId) {
    ObjectNode s = into.addObject().putObject("SpecialToken");
    s.put("id", id);
    s.put("type_id", typeId);
  }

  /** A {@code Sequence} step (the input "A" or "B") of a template post-processor. */
  public static void sequence(ArrayNode into, String id, int typeId) {
    ObjectNode s = into.addObject().putObject("Sequence");
    s.put("id", id);
    s.put("type_id", typeId);
  }
}
