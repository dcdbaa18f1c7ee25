package io.sparkformers.training.models.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which tensors go to which shard file, by huggingface_hub's {@code split_state_dict_into_shards_factory} (what
 * transformers' save_pretrained calls): tensors in state-dict order fill a shard until the next one would
 * pass the limit; a tensor larger than the limit gets a shard of its own, placed before the shard being
 * filled. One shard is named {@code model.safetensors}; N shards {@code model-0000i-of-0000N.safetensors}.
 */
public final class ShardPlan {
  private final List<String> fileNames;
  private final Map<String, List<String>> tensorsByFile;
  private final long totalSize;

  private ShardPlan(List<String> fileNames, Map<String, List<String>> tensorsByFile, long totalSize) {
    this.fileNames = fileNames;
    this.tensorsByFile = tensorsByFile;
    this.totalSize = totalSize;
  }

  /**
   * @param sizes bytes of each tensor as it will be stored, in state-dict order
   */
  public static ShardPlan split(Map<String, Long> sizes, long maxShardSize) {
    List<List<String>> shards = new ArrayList<>();
    List<String> current = new ArrayList<>();
    long currentSize = 0;
    long total = 0;
    for (Map.Entry<String, Long> e : sizes.entrySet()) {
      long size = e.getValue();
      if (size > maxShardSize) {
        total += size;
        shards.add(List.of(e.getKey()));
        continue;
      }
      if (currentSize + size > maxShardSize) {
        shards.add(current);
        current = new ArrayList<>();
        currentSize = 0;
      }
      current.add(e.getKey());
      currentSize += size;
      total += size;
    }
    if (!current.isEmpty()) {
      shards.add(current);
    }
    Map<String, List<String>> byFile = new LinkedHashMap<>();
    if (shards.size() <= 1) {
      byFile.put("model.safetensors", List.copyOf(sizes.keySet()));
    } else {
      for (int i = 0; i < shards.size(); i++) {
        byFile.put(String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size()), List.copyOf(shards.get(i)));
      }
    }
    return new ShardPlan(List.copyOf(byFile.keySet()), Collections.unmodifiableMap(byFile), total);
  }

  public boolean sharded() {
    return fileNames.size() > 1;
  }

  public List<String> fileNames() {
    return fileNames;
  }

  public List<String> tensorsIn(String fileName) {
    return tensorsByFile.get(fileName);
  }

  /** Bytes of all tensor data, the index's metadata.total_size. */
  public long totalSize() {
    return totalSize;
  }
}
