package io.sparkformers.jobs;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code sparkformers help [COMMAND [SUBCOMMAND...]]}: the help of any command, nested ones included
 * ({@code help datasets convert} is {@code datasets convert --help}); picocli's own help command stops at the
 * first level.
 */
@Command(name = "help", helpCommand = true,
    description = "Show the help of a command, e.g. help train, help datasets convert.")
final class HelpCommand implements CommandLine.IHelpCommandInitializable2, Runnable {

  @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "a command and its subcommands")
  List<String> names = new ArrayList<>();

  private CommandLine self;
  private CommandLine.Help.ColorScheme colorScheme;
  private PrintWriter out;

  @Override
  public void init(CommandLine helpCommandLine, CommandLine.Help.ColorScheme colorScheme, PrintWriter outWriter,
      PrintWriter errWriter) {
    this.self = helpCommandLine;
    this.colorScheme = colorScheme;
    this.out = outWriter;
  }

  @Override
  public void run() {
    CommandLine target = self.getParent();
    for (String name : names) {
      CommandLine sub = target.getSubcommands().get(name);
      if (sub == null) {
        throw new CommandLine.ParameterException(self, "Unknown subcommand '" + name + "' of '"
            + target.getCommandSpec().qualifiedName() + "': expected one of " + target.getSubcommands().keySet());
      }
      target = sub;
    }
    target.usage(out, colorScheme);
    out.flush();
  }
}
