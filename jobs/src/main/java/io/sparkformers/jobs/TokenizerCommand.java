package io.sparkformers.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers tokenizer train|encode}: train a tokenizer.json from text files as Hugging Face's
 * tokenizers library does (byte-level BPE, WordPiece or Unigram, with its presets), and encode JSON lines of
 * texts to ids. Exit codes: 0 done, 1 bad input (the message names the file and line), 2 a usage error.
 */
@Command(
    name = "tokenizer",
    mixinStandardHelpOptions = true,
    description = "Train a tokenizer.json from text files; encode JSON lines with one.",
    subcommands = {TokenizerCommand.Train.class, TokenizerCommand.Encode.class})
public final class TokenizerCommand implements Runnable {
  private static final ObjectMapper JSON = new ObjectMapper();

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: train or encode");
  }

  /** {@code tokenizer train --type T --vocab-size N --input FILE... --output (tokenizer.json | DIR)}. */
  @Command(name = "train", mixinStandardHelpOptions = true,
      description = "Train a tokenizer on text files (one text a line) and write its tokenizer.json. Presets as the"
          + " tokenizers library's: ByteLevel for bytelevel-bpe; BertNormalizer (lowercase) and BertPreTokenizer"
          + " for wordpiece; Metaspace for unigram.")
  static final class Train implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--type", required = true, paramLabel = "TYPE", description = "bytelevel-bpe, wordpiece or unigram")
    String type;

    @Option(names = "--vocab-size", required = true, paramLabel = "N", description = "the vocabulary size to reach")
    int vocabSize;

    @Option(names = "--min-frequency", paramLabel = "N",
        description = "bytelevel-bpe and wordpiece: how often a pair must occur to be merged (default 2)")
    Long minFrequency;

    @Option(names = "--special-tokens", split = ",", paramLabel = "TOKEN",
        description = "special tokens, the first ids in this order (default <|endoftext|>; [PAD],[UNK],[CLS],[SEP],"
            + "[MASK]; <unk>,<s>,</s>)")
    List<String> specialTokens;

    @Option(names = "--input", required = true, arity = "1..*", paramLabel = "FILE", description = "text files")
    List<Path> inputs;

    @Option(names = "--output", required = true, paramLabel = "FILE|DIR", description = "the tokenizer.json to"
        + " write, or a model folder (a name not ending in .json) to write tokenizer.json and tokenizer_config.json"
        + " (special tokens, model_max_length) into")
    Path output;

    @Override
    public Integer call() throws Exception {
      TokenizerTrainer.Builder builder = switch (type) {
        case "bytelevel-bpe" -> TokenizerTrainer.byteLevelBpe();
        case "wordpiece" -> TokenizerTrainer.wordPiece();
        case "unigram" -> TokenizerTrainer.unigram();
        default -> throw new CommandLine.ParameterException(spec.commandLine(),
            "--type must be bytelevel-bpe, wordpiece or unigram, got '" + type + "'");
      };
      if (vocabSize <= 0) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--vocab-size must be positive");
      }
      if (minFrequency != null && type.equals("unigram")) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--min-frequency is for bytelevel-bpe and"
            + " wordpiece; a unigram trainer has none");
      }
      builder.vocabSize(vocabSize);
      if (minFrequency != null) {
        builder.minFrequency(minFrequency);
      }
      if (specialTokens != null) {
        builder.specialTokens(specialTokens);
      }
      TokenizerTrainer trainer;
      try {
        trainer = builder.build();
      } catch (IllegalArgumentException e) { // settings that do not fit together are a usage error
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      return DatasetsCommand.guarded(spec, () -> {
        List<String> texts = new ArrayList<>();
        for (Path input : inputs) {
          try {
            texts.addAll(Files.readAllLines(input, StandardCharsets.UTF_8));
          } catch (IOException e) {
            throw new IllegalArgumentException("Cannot read " + input + ": " + e, e);
          }
        }
        if (output.getFileName().toString().endsWith(".json")) {
          trainer.trainFile(texts, output);
        } else {
          trainer.train(texts, output);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("Wrote a " + type + " tokenizer of " + vocabSize + " tokens, trained on " + texts.size()
            + " lines, to " + output);
        out.flush();
        return 0;
      });
    }
  }

  /** {@code tokenizer encode --tokenizer FILE --input FILE.jsonl [--output FILE.jsonl]}. */
  @Command(name = "encode", mixinStandardHelpOptions = true,
      description = "Encode JSON lines {\"text\": ...} to {\"ids\": [...]} (stdout, or --output).")
  static final class Encode implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--tokenizer", required = true, paramLabel = "FILE",
        description = "a tokenizer.json file, or a folder holding one")
    Path tokenizer;

    @Option(names = "--input", required = true, paramLabel = "FILE", description = "JSON lines with a \"text\" field")
    Path input;

    @Option(names = "--output", paramLabel = "FILE", description = "where to write the ids (default: stdout)")
    Path output;

    @Option(names = "--no-special-tokens", description = "leave out the special tokens the tokenizer adds")
    boolean noSpecialTokens;

    @Override
    public Integer call() throws Exception {
      return DatasetsCommand.guarded(spec, () -> {
        try (Tokenizer t = Files.isDirectory(tokenizer) ? AutoTokenizer.fromPretrained(tokenizer)
            : AutoTokenizer.fromFile(tokenizer);
            BufferedReader in = Files.newBufferedReader(input, StandardCharsets.UTF_8);
            Writer out = output != null ? Files.newBufferedWriter(output, StandardCharsets.UTF_8)
                : new NonClosingWriter(spec.commandLine().getOut())) {
          int lineNumber = 0;
          for (String line = in.readLine(); line != null; line = in.readLine()) {
            lineNumber++;
            if (line.isBlank()) {
              continue;
            }
            String text = textOf(line, lineNumber);
            int[] ids = t.encode(text, 0, !noSpecialTokens).inputIds();
            ObjectNode row = JSON.createObjectNode();
            var array = row.putArray("ids");
            for (int id : ids) {
              array.add(id);
            }
            out.write(JSON.writeValueAsString(row));
            out.write('\n');
          }
        } catch (IOException e) {
          throw new UncheckedIOException(input + ": " + e.getMessage(), e);
        }
        return 0;
      });
    }

    private String textOf(String line, int lineNumber) {
      JsonNode row;
      try {
        row = JSON.readTree(line);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException(input + ": line " + lineNumber + ": not JSON: "
            + e.getOriginalMessage());
      }
      JsonNode text = row == null ? null : row.get("text");
      if (text == null || !text.isTextual()) {
        throw new IllegalArgumentException(input + ": line " + lineNumber + ": expected an object with a string"
            + " \"text\", got " + line);
      }
      return text.asText();
    }
  }

  /** Lets the command line's own writer be used in try-with-resources: flushed, not closed. */
  private static final class NonClosingWriter extends Writer {
    private final PrintWriter out;

    NonClosingWriter(PrintWriter out) {
      this.out = out;
    }

    @Override
    public void write(char[] buffer, int offset, int length) {
      out.write(buffer, offset, length);
    }

    @Override
    public void flush() {
      out.flush();
    }

    @Override
    public void close() {
      out.flush();
    }
  }
}
