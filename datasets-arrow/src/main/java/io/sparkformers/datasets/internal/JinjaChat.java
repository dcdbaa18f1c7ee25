package io.sparkformers.datasets.internal;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.InterpreterFactory;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.IfTag;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.time.ZonedDateTime;
import jinjava.javax.el.ExpressionFactory;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * jinjava set up to render chat templates as transformers' Jinja2 environment does ({@code trim_blocks},
 * {@code lstrip_blocks}, its {@code raise_exception}, {@code strftime_now} and {@code tojson}, the
 * {@code {% generation %}} tag), with Python's printing of values. Each adaptation is there because jinjava and
 * Jinja2 differ on it; the tests name each difference.
 */
public final class JinjaChat {
  /** Marks where a {@code {% generation %}} block's output starts and ends; Unicode noncharacters, never text. */
  static final char GENERATION_START = '\uFDD0';
  static final char GENERATION_END = '\uFDD1';

  private final Jinjava jinjava;
  private final JinjavaConfig config;
  /**
   * Each thread's copy of the global context, the parent of its renders. jinjava's renderForResult builds a new
   * copy for every render, registering every built-in filter, tag and function again by reflection: that was
   * most of the time of rendering a short chat. A render writes into its own child context; what it adds to its
   * parents (the resolved names) is cleared after each render, as jinjava clears its global context.
   */
  private final ThreadLocal<Context> roots = ThreadLocal.withInitial(this::copyGlobals);
  /** {@link #prepare}'s rewrite of each template source (a pure function of the source; few sources). */
  private final Map<String, LoopFilters.Rewritten> prepared = new java.util.concurrent.ConcurrentHashMap<>();

  public JinjaChat() {
    JinjavaConfig config = JinjavaConfig.newBuilder()
        .withTrimBlocks(true)
        // lstrip_blocks is done on the source (LstripBlocks): jinjava's also strips spaces after text.
        .withLstripBlocks(false)
        .withFailOnUnknownTokens(false)
        // jinjava's keep_trailing_newline=False strips the last newline of the output, even one an expression
        // printed; Jinja2 strips it from the template source only (see withoutFinalNewline).
        .withKeepTrailingNewline(true)
        .withElResolver(PythonMethods.resolverChain())
        .withInterperterFactory(new PythonPrintingInterpreters())
        .withLegacyOverrides(LegacyOverrides.newBuilder()
            // Jinja2's precedence, whitespace control, dict-literal keys and `for k in dict`.
            .withUseNaturalOperatorPrecedence(true)
            .withParseWhitespaceControlStrictly(true)
            .withEvaluateMapKeys(true)
            .withIterateOverMapKeys(true)
            .withKeepNullableLoopValues(true)
            // {{- and -}} strip the text around expressions too, not only around tags.
            .withUseTrimmingForNotesAndExpressions(true)
            .build())
        .build();
    this.config = config;
    ExpressionFactory expressions = PythonExpressions.factory();
    jinjava = new Jinjava(config) {
      @Override
      public ExpressionFactory getExpressionFactory() {
        return expressions;
      }
    };
    Context globals = jinjava.getGlobalContext();
    globals.registerFunction(new ELFunctionDefinition("", "raise_exception", JinjaChat.class, "raiseException",
        Object.class));
    globals.registerFunction(new ELFunctionDefinition("", "strftime_now", JinjaChat.class, "strftimeNow",
        String.class));
    globals.registerFilter(new ToJson());
    globals.registerFilter(new Trim());
    globals.registerFilter(new ToPythonString());
    globals.registerFilter(new PySlice());
    globals.registerFilter(new CodePointLength());
    globals.registerFilter(new Items());
    globals.registerFilter(new PyLoopFilter());
    globals.registerExpTest(new IsNone());
    globals.registerExpTest(new IsIterable());
    globals.registerTag(new Generation());
    globals.registerTag(new PythonTruthIf());
  }

  /** The text a template gives, with the character spans its {@code {% generation %}} blocks wrote. */
  public record Output(String text, List<int[]> generationSpans) {}

  /** Thrown when a template fails: {@code raisedByTemplate} when it called {@code raise_exception}. */
  public static final class Failure extends RuntimeException {
    private final boolean raisedByTemplate;

    Failure(String message, boolean raisedByTemplate) {
      super(message);
      this.raisedByTemplate = raisedByTemplate;
    }

    public boolean raisedByTemplate() {
      return raisedByTemplate;
    }
  }

  /** Syntax errors in {@code source} (unknown tags, unclosed blocks, bad expressions), each with its line. */
  public List<String> syntaxErrors(String source) {
    JinjavaInterpreter interpreter = jinjava.newInterpreter();
    JinjavaInterpreter.pushCurrent(interpreter);
    try {
      interpreter.parse(prepare(source).source());
    } finally {
      JinjavaInterpreter.popCurrent();
    }
    List<String> errors = new ArrayList<>();
    for (TemplateError e : interpreter.getErrorsCopy()) {
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        errors.add(describe(e));
      }
    }
    // jinjava passes a value through an unknown filter as null and calls an unknown test false; Jinja2 refuses
    // the template ("No filter named 'x'."), as transformers reports it.
    Context globals = jinjava.getGlobalContext();
    for (String filter : CodeNames.filters(source)) {
      if (globals.getFilter(filter) == null) {
        errors.add("No filter named '" + filter + "'.");
      }
    }
    for (String test : CodeNames.tests(source)) {
      if (globals.getExpTest(test) == null) {
        errors.add("No test named '" + test + "'.");
      }
    }
    return errors;
  }

  /** Renders {@code source} with {@code variables} (already template values: see {@link PythonValues}). */
  public Output render(String source, Map<String, Object> variables) {
    LoopFilters.Rewritten rewritten = prepared.size() < 64 ? prepared.computeIfAbsent(source, JinjaChat::prepare)
        : prepare(source);
    Map<String, Object> all = new java.util.HashMap<>(variables);
    all.put(LoopFilters.VARIABLE, rewritten.filters());
    RenderResult result = renderForResult(rewritten.source(), all);
    // jinjava goes on after an error; Jinja2 stops at the first, so the first one (in rendering order) counts.
    for (TemplateError e : result.getErrors()) {
      String raised = causeMessage(e.getException(), Raised.class);
      if (raised != null) {
        throw new Failure(raised, true);
      }
      String runtime = causeMessage(e.getException(), PythonExpressions.TemplateRuntimeError.class);
      if (runtime != null) {
        throw new Failure(runtime, false);
      }
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        throw new Failure(describe(e), false);
      }
    }
    return withoutMarkers(result.getOutput());
  }

  /**
   * jinjava's {@code renderForResult} (2.8) with this thread's copy of the global context as the parent instead
   * of a new copy. Its trailing-newline stripping is left out: keep_trailing_newline is on, so it strips nothing.
   */
  private RenderResult renderForResult(String template, Map<String, Object> bindings) {
    Context root = roots.get();
    Context context = new Context(root, bindings, config.getDisabled());
    JinjavaInterpreter interpreter = config.getInterpreterFactory().newInstance(jinjava, context, config);
    try {
      String output = interpreter.render(template);
      return new RenderResult(output, interpreter.getContext(), interpreter.getErrorsCopy());
    } catch (com.hubspot.jinjava.interpret.InterpretException e) {
      TemplateError error = e instanceof com.hubspot.jinjava.interpret.TemplateSyntaxException syntax
          ? TemplateError.fromException(syntax) : TemplateError.fromSyntaxError(e);
      return new RenderResult(error, interpreter.getContext(), interpreter.getErrorsCopy());
    } catch (com.hubspot.jinjava.interpret.InvalidArgumentException e) {
      return new RenderResult(TemplateError.fromInvalidArgumentException(e), interpreter.getContext(),
          interpreter.getErrorsCopy());
    } catch (com.hubspot.jinjava.interpret.InvalidInputException e) {
      return new RenderResult(TemplateError.fromInvalidInputException(e), interpreter.getContext(),
          interpreter.getErrorsCopy());
    } catch (Exception e) {
      return new RenderResult(TemplateError.fromException(e), interpreter.getContext(), interpreter.getErrorsCopy());
    } finally {
      root.reset();
    }
  }

  /** A root context holding what the global context holds, as jinjava copies it for a render. */
  private Context copyGlobals() {
    Context globals = jinjava.getGlobalContext();
    Context copy = new Context(null, globals);
    globals.getAllExpTests().forEach(copy::registerExpTest);
    globals.getAllFilters().forEach(copy::registerFilter);
    globals.getAllFunctions().forEach(copy::registerFunction);
    globals.getAllTags().forEach(copy::registerTag);
    copy.setAutoEscape(globals.isAutoEscape());
    copy.setDynamicVariableResolver(globals.getDynamicVariableResolver());
    return copy;
  }

  /** The source as jinjava should see it to render as Jinja2 does, with the conditions of filtered loops. */
  static LoopFilters.Rewritten prepare(String source) {
    String jinja2Whitespace = LstripBlocks.rewrite(withoutFinalNewline(source));
    String slices = StepSlices.rewrite(StringEscapes.rewrite(jinja2Whitespace));
    LoopFilters.Rewritten filtered = LoopFilters.rewrite(slices);
    return new LoopFilters.Rewritten(ForElse.rewrite(filtered.source()), filtered.filters());
  }

  /** Jinja2's lexer drops one newline at the very end of a template (keep_trailing_newline=False). */
  static String withoutFinalNewline(String source) {
    if (source.endsWith("\r\n")) {
      return source.substring(0, source.length() - 2);
    }
    if (source.endsWith("\n") || source.endsWith("\r")) {
      return source.substring(0, source.length() - 1);
    }
    return source;
  }

  private static String describe(TemplateError e) {
    StringBuilder s = new StringBuilder(e.getMessage());
    if (e.getLineno() > 0) {
      s.append(" (line ").append(e.getLineno());
      if (e.getStartPosition() > 0) {
        s.append(", column ").append(e.getStartPosition());
      }
      s.append(')');
    }
    return s.toString();
  }

  /** The message of the first {@code type} in the cause chain: jinjava wraps what functions and operators throw. */
  private static String causeMessage(Throwable e, Class<? extends RuntimeException> type) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (type.isInstance(t)) {
        return t.getMessage();
      }
    }
    return null;
  }

  static Output withoutMarkers(String marked) {
    StringBuilder text = new StringBuilder(marked.length());
    List<int[]> spans = new ArrayList<>();
    int start = -1;
    for (int i = 0; i < marked.length(); i++) {
      char c = marked.charAt(i);
      if (c == GENERATION_START) {
        start = text.length();
      } else if (c == GENERATION_END) {
        if (start >= 0 && text.length() > start) {
          spans.add(new int[] {start, text.length()});
        }
        start = -1;
      } else {
        text.append(c);
      }
    }
    return new Output(text.toString(), List.copyOf(spans));
  }

  /** What {@code raise_exception(message)} throws; jinjava records it as an error, found again by type. */
  static final class Raised extends RuntimeException {
    Raised(String message) {
      super(message);
    }
  }

  /** transformers' {@code raise_exception}. */
  public static Object raiseException(Object message) {
    throw new Raised(PythonValues.str(message));
  }

  /** transformers' {@code strftime_now(format)}: the local time through Python's strftime codes. */
  public static String strftimeNow(String format) {
    return strftime(ZonedDateTime.now(), format);
  }

  static String strftime(ZonedDateTime t, String format) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < format.length(); i++) {
      char c = format.charAt(i);
      if (c != '%' || i + 1 == format.length()) {
        out.append(c);
        continue;
      }
      char code = format.charAt(++i);
      switch (code) {
        case 'Y' -> out.append(t.getYear());
        case 'y' -> out.append(String.format("%02d", t.getYear() % 100));
        case 'm' -> out.append(String.format("%02d", t.getMonthValue()));
        case 'd' -> out.append(String.format("%02d", t.getDayOfMonth()));
        case '-' -> {
          // glibc's %-d and %-m: no padding.
          char next = i + 1 < format.length() ? format.charAt(++i) : 'd';
          out.append(next == 'm' ? t.getMonthValue() : next == 'H' ? t.getHour() : t.getDayOfMonth());
        }
        case 'H' -> out.append(String.format("%02d", t.getHour()));
        case 'I' -> out.append(String.format("%02d", t.getHour() % 12 == 0 ? 12 : t.getHour() % 12));
        case 'M' -> out.append(String.format("%02d", t.getMinute()));
        case 'S' -> out.append(String.format("%02d", t.getSecond()));
        case 'p' -> out.append(t.getHour() < 12 ? "AM" : "PM");
        case 'B' -> out.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
        case 'b' -> out.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
        case 'A' -> out.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
        case 'a' -> out.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
        case 'j' -> out.append(String.format("%03d", t.getDayOfYear()));
        case '%' -> out.append('%');
        default -> out.append('%').append(code);
      }
    }
    return out.toString();
  }

  /** Interpreters that print values as Jinja2 does: Python's {@code str()} ({@code True}, {@code ['a']}). */
  private static final class PythonPrintingInterpreters implements InterpreterFactory {
    @Override
    public JinjavaInterpreter newInstance(JinjavaInterpreter orig) {
      return new PythonPrinting(orig);
    }

    @Override
    public JinjavaInterpreter newInstance(Jinjava application, Context context, JinjavaConfig renderConfig) {
      return new PythonPrinting(application, context, renderConfig);
    }
  }

  private static final class PythonPrinting extends JinjavaInterpreter {
    PythonPrinting(JinjavaInterpreter orig) {
      super(orig);
    }

    PythonPrinting(Jinjava application, Context context, JinjavaConfig config) {
      super(application, context, config);
    }

    @Override
    public String getAsString(Object object) {
      return PythonValues.str(object);
    }
  }

  /** transformers' {@code tojson}: {@code json.dumps} with {@code ensure_ascii=False}, {@code indent} honoured. */
  private static final class ToJson implements Filter {
    @Override
    public String getName() {
      return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
      String indentText = null;
      if (indent instanceof Number n) {
        indentText = " ".repeat(n.intValue());
      } else if (indent instanceof CharSequence s) {
        indentText = s.toString();
      }
      return PythonValues.toJson(var, indentText);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return PythonValues.toJson(var, null);
    }
  }

  /** Jinja2's {@code trim} is Python's {@code str.strip()} (Unicode whitespace, not every char up to U+0020). */
  private static final class Trim implements Filter {
    @Override
    public String getName() {
      return "trim";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      String chars = args.length > 0 && args[0] != null ? args[0].toString() : null;
      return PythonValues.strip(PythonValues.str(var), chars, true, true);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return PythonValues.strip(PythonValues.str(var), args.length > 0 ? args[0] : null, true, true);
    }
  }

  /** Jinja2's {@code string} filter is Python's {@code str()}: {@code True}, not {@code true}. */
  private static final class ToPythonString implements Filter {
    @Override
    public String getName() {
      return "string";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return PythonValues.str(var);
    }
  }

  /** Python's {@code len()} of a string counts code points; jinjava's {@code length} counts UTF-16 units. */
  private static final class CodePointLength extends com.hubspot.jinjava.lib.filter.LengthFilter {
    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      if (var instanceof String s) {
        return s.codePointCount(0, s.length());
      }
      return super.filter(var, interpreter, args);
    }
  }

  /** Jinja2's {@code items} filter ({@code dict|items}), which jinjava lacks. */
  private static final class Items implements Filter {
    @Override
    public String getName() {
      return "items";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      if (var == null || var == PythonValues.None.NONE) {
        return new com.hubspot.jinjava.objects.collections.PyList(new ArrayList<>());
      }
      if (!(var instanceof Map<?, ?> map)) {
        throw new PythonExpressions.TemplateRuntimeError("Can only get item pairs from a mapping.");
      }
      return new com.hubspot.jinjava.objects.collections.PyList(new ArrayList<>(map.entrySet()));
    }
  }

  /** {@code x|py_slice(start, stop, step)}: what {@link StepSlices} turns {@code x[start:stop:step]} into. */
  private static final class PySlice implements Filter {
    @Override
    public String getName() {
      return "py_slice";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      return StepSlices.slice(var, args.length > 0 ? args[0] : null, args.length > 1 ? args[1] : null,
          args.length > 2 ? args[2] : null);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      throw new UnsupportedOperationException("py_slice takes its arguments as values");
    }
  }

  /** {@code items|py_loop_filter(n)}: what {@link LoopFilters} turns {@code for x in items if c} into. */
  private static final class PyLoopFilter implements Filter {
    @Override
    public String getName() {
      return "py_loop_filter";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      return LoopFilters.select(var, interpreter, ((Number) args[0]).intValue());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
      return LoopFilters.select(var, interpreter, Integer.parseInt(args[0]));
    }
  }

  /** Jinja2's {@code iterable} test is Python's {@code iter(x)} succeeding: strings are iterable too. */
  private static final class IsIterable extends com.hubspot.jinjava.lib.exptest.IsIterableExpTest {
    @Override
    public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
      return var instanceof CharSequence || var instanceof Map || super.evaluate(var, interpreter, args);
    }
  }

  /**
   * {@code is none} holds for None (a JSON null in the data, the literal {@code none}: see
   * {@link PythonValues.None}) and not for an undefined name, as in Jinja2; jinjava's is true for both.
   */
  private static final class IsNone implements ExpTest {
    @Override
    public String getName() {
      return "none";
    }

    @Override
    public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
      return var == PythonValues.None.NONE;
    }
  }

  /** {@code {% if %}} and {@code {% elif %}} with Python's truth (see {@link PythonValues#truthy}). */
  private static final class PythonTruthIf extends IfTag {
    @Override
    public boolean isPositiveIfElseNode(TagNode tagNode, JinjavaInterpreter interpreter) {
      return PythonValues.truthy(interpreter.resolveELExpression(tagNode.getHelpers(), tagNode.getLineNumber(),
          tagNode.getStartPosition()));
    }
  }

  /**
   * transformers' {@code {% generation %}...{% endgeneration %}}: its output is the assistant's text that
   * training learns from. Rendered as is, between markers that {@link #withoutMarkers} turns into spans.
   */
  private static final class Generation implements Tag {
    @Override
    public String getName() {
      return "generation";
    }

    @Override
    public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
      StringBuilder out = new StringBuilder().append(GENERATION_START);
      for (Node child : tagNode.getChildren()) {
        out.append(child.render(interpreter).getValue());
      }
      return out.append(GENERATION_END).toString();
    }
  }
}
