package io.sparkformers.datasets.internal;

import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.AdditionOperator;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.misc.TypeConverter;
import jinjava.de.odysseus.el.tree.IdentifierNode;
import jinjava.de.odysseus.el.tree.TreeStore;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Cache;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ExpressionFactory;

/**
 * jinjava's expression language with Python's rules where chat templates meet them: {@code not}'s precedence;
 * {@code and} returning an operand; {@code +} on a string and
 * something else (an undefined {@code eos_token}, None, a number) is an error in Jinja2, where jinjava glues on
 * "null" or the number; and {@code ~} turns values into text as {@code str()} does ({@code True}, {@code None}).
 */
public final class PythonExpressions {
  private PythonExpressions() {}

  /** An error Jinja2 raises while rendering (UndefinedError, TypeError), with Jinja2's message. */
  public static final class TemplateRuntimeError extends RuntimeException {
    public TemplateRuntimeError(String message) {
      super(message);
    }
  }

  /** The expression factory jinjava should use: its own parser and syntax, with the operators above. */
  public static ExpressionFactory factory() {
    // Parsed expressions are cached by their text, as jinjava's own factory does (1000 is JUEL's default size).
    // The features of JUEL's JEE6 profile, which jinjava's own factory gets by default.
    Syntax syntax = new Syntax(Builder.Feature.METHOD_INVOCATIONS, Builder.Feature.VARARGS);
    return new ExpressionFactoryImpl(new TreeStore(syntax, new Cache(1000)), new PythonConverter());
  }

  /** jinjava's syntax, with its parser's {@code +} replaced. */
  public static final class Syntax extends ExtendedSyntaxBuilder {
    private static final long serialVersionUID = 1L;

    Syntax(Builder.Feature... features) {
      super(features);
    }

    @Override
    protected Parser createParser(String expression) {
      return new ExtendedParser(this, expression) {
        @Override
        protected AstBinary createAstBinary(AstNode left, AstNode right, AstBinary.Operator operator) {
          if (operator == AdditionOperator.OP) {
            return super.createAstBinary(left, right, new PythonAddition(name(left), name(right)));
          }
          if (operator == AstBinary.MOD) {
            return super.createAstBinary(left, right, PYTHON_MOD);
          }
          return super.createAstBinary(left, right, operator == AstBinary.AND ? PYTHON_AND : operator);
        }

        /**
         * Jinja2's {@code not} binds looser than comparisons and tests ({@code not x is defined} is
         * {@code not (x is defined)}, {@code not a == b} is {@code not (a == b)}); JUEL's binds tighter than all.
         */
        @Override
        protected AstNode unary(boolean required) throws Scanner.ScanException, Parser.ParseException {
          if (getToken().getSymbol() == Scanner.Symbol.NOT) {
            consumeToken();
            return createAstUnary(eq(true), AstUnary.NOT);
          }
          return super.unary(required);
        }
      };
    }

    private static String name(AstNode node) {
      return node instanceof IdentifierNode id ? id.getName() : null;
    }
  }

  /**
   * Python's {@code a and b}: {@code b} when {@code a} is true, else {@code a} (JUEL's gives a boolean, so
   * {@code {{ name and '(' ~ name ~ ')' }}} would print True). jinjava's {@code or} already returns an operand.
   */
  static final AstBinary.Operator PYTHON_AND = (bindings, context, left, right) -> {
    Object l = left.eval(bindings, context);
    return bindings.convert(l, Boolean.class) ? right.eval(bindings, context) : l;
  };

  /**
   * Python's {@code %}: printf-style formatting when the left side is a string ({@code '%s: %d' % (a, b)}, which
   * JUEL rejects), else the remainder with the divisor's sign ({@code -7 % 2} is 1; Java's is -1).
   */
  static final AstBinary.Operator PYTHON_MOD = new AstBinary.SimpleOperator() {
    @Override
    protected Object apply(TypeConverter converter, Object left, Object right) {
      if (left instanceof CharSequence format) {
        return percentFormat(format.toString(), right);
      }
      if (left instanceof Number a && right instanceof Number b) {
        boolean integers = !(a instanceof Double || a instanceof Float || b instanceof Double || b instanceof Float
            || a instanceof java.math.BigDecimal || b instanceof java.math.BigDecimal);
        if (integers) {
          long d = b.longValue();
          if (d == 0) {
            throw new TemplateRuntimeError("integer modulo by zero");
          }
          return Math.floorMod(a.longValue(), d);
        }
        double d = b.doubleValue();
        if (d == 0) {
          throw new TemplateRuntimeError("float modulo");
        }
        double r = a.doubleValue() % d;
        return r != 0 && (r < 0) != (d < 0) ? r + d : r;
      }
      throw new TemplateRuntimeError("unsupported operand type(s) for %: '" + PythonAddition.typeName(left)
          + "' and '" + PythonAddition.typeName(right) + "'");
    }
  };

  /** Python's {@code format % values} for %s, %r, %d, %i and %%. */
  static String percentFormat(String format, Object values) {
    List<Object> args = values instanceof List<?> list ? new java.util.ArrayList<>(list) : List.of(values);
    StringBuilder out = new StringBuilder();
    int next = 0;
    for (int i = 0; i < format.length(); i++) {
      char c = format.charAt(i);
      if (c != '%') {
        out.append(c);
        continue;
      }
      if (i + 1 == format.length()) {
        throw new TemplateRuntimeError("incomplete format");
      }
      char code = format.charAt(++i);
      if (code == '%') {
        out.append('%');
        continue;
      }
      if (next >= args.size()) {
        throw new TemplateRuntimeError("not enough arguments for format string");
      }
      Object arg = args.get(next++);
      switch (code) {
        case 's' -> out.append(PythonValues.str(arg));
        case 'r' -> out.append(PythonValues.repr(arg));
        case 'd', 'i' -> {
          if (!(arg instanceof Number n)) {
            throw new TemplateRuntimeError("%" + code + " format: a real number is required, not "
                + PythonAddition.typeName(arg));
          }
          out.append(n.longValue());
        }
        default -> throw new TemplateRuntimeError("unsupported format character '" + code + "'");
      }
    }
    if (next < args.size()) {
      throw new TemplateRuntimeError("not all arguments converted during string formatting");
    }
    return out.toString();
  }

  /** Python's {@code +}: strings join only with strings; an undefined operand is Jinja2's UndefinedError. */
  static final class PythonAddition extends AdditionOperator {
    private final String leftName;
    private final String rightName;

    PythonAddition(String leftName, String rightName) {
      this.leftName = leftName;
      this.rightName = rightName;
    }

    @Override
    protected Object apply(TypeConverter converter, Object left, Object right) {
      if (left == null || right == null) {
        String name = left == null ? leftName : rightName;
        throw new TemplateRuntimeError(name != null ? "'" + name + "' is undefined"
            : "an undefined value was used with '+'");
      }
      boolean leftText = left instanceof CharSequence;
      boolean rightText = right instanceof CharSequence;
      if (leftText != rightText) {
        throw new TemplateRuntimeError(leftText
            ? "can only concatenate str (not \"" + typeName(right) + "\") to str"
            : "unsupported operand type(s) for +: '" + typeName(left) + "' and 'str'");
      }
      return super.apply(converter, left, right);
    }

    static String typeName(Object value) {
      if (value == PythonValues.None.NONE) {
        return "NoneType";
      }
      if (value instanceof Boolean) {
        return "bool";
      }
      if (value instanceof Double || value instanceof Float || value instanceof java.math.BigDecimal) {
        return "float";
      }
      if (value instanceof Number) {
        return "int";
      }
      if (value instanceof Map) {
        return "dict";
      }
      if (value instanceof Collection) {
        return "list";
      }
      return value.getClass().getSimpleName();
    }
  }

  /** Values as text the way Python's {@code str()} gives them, for {@code ~} and other conversions to text. */
  static final class PythonConverter extends TruthyTypeConverter {
    private static final long serialVersionUID = 1L;

    /** {@code not}, {@code and}, {@code or} and {@code x if c else y} test truth as Python does. */
    @Override
    protected Boolean coerceToBoolean(Object value) {
      return PythonValues.truthy(value);
    }

    @Override
    protected String coerceToString(Object value) {
      if (value == null || value instanceof String) {
        return super.coerceToString(value);
      }
      if (value instanceof Boolean || value == PythonValues.None.NONE || value instanceof Number
          || value instanceof Collection || value instanceof Map) {
        return PythonValues.str(value);
      }
      return super.coerceToString(value);
    }
  }
}
