using ImageGen.Core.Training;

namespace ImageGen.Cli;

/// <summary>A command's parsed options. Every lookup names the option in its error, with what it accepts.</summary>
public sealed class Args
{
    private readonly Dictionary<string, string?> values;
    public string Command { get; }

    /// <summary>The one argument that is not an option, for commands that take one (drop's folder).</summary>
    public string? Positional { get; private init; }

    private Args(string command, Dictionary<string, string?> values) { Command = command; this.values = values; }

    /// <summary>Parses a command's arguments against its definition in <see cref="CommandTree"/>.</summary>
    public static Args Parse(CommandDefinition definition, IReadOnlyList<string> args, string? commandName = null) =>
        Parse(commandName ?? definition.Name, args, definition.Values, definition.Flags, definition.Positional is not null);

    /// <summary>
    /// Parses "--name value" and "--flag" pairs, and with <paramref name="positional"/> one bare argument; options not in
    /// valueOptions or flags are an error naming the allowed ones.
    /// </summary>
    private static Args Parse(string command, IReadOnlyList<string> args, string[] valueOptions, string[] flags, bool positional)
    {
        var values = new Dictionary<string, string?>();
        string? bare = null;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (positional && bare is null && !arg.StartsWith("--")) { bare = arg; continue; }
            string? inline = null;
            int eq = arg.IndexOf('=');
            if (arg.StartsWith("--") && eq > 0) { inline = arg[(eq + 1)..]; arg = arg[..eq]; }
            if (flags.Contains(arg))
            {
                // A flag is on when given; "--flag=false" turns it off rather than on, and anything else is refused.
                bool on = inline?.ToLowerInvariant() switch
                {
                    null or "true" => true,
                    "false" => false,
                    _ => throw new UsageException($"{arg} is a flag: give it alone (or {arg}=true / {arg}=false), not '{inline}'"),
                };
                if (on) values[arg] = "true";
                else values.Remove(arg);
                continue;
            }
            if (!valueOptions.Contains(arg))
                throw new UsageException($"'{command}' does not take '{arg}'; it takes {string.Join(", ", valueOptions.Concat(flags).Order())}");
            string? value = inline ?? (i + 1 < args.Count ? args[++i] : null);
            if (value is null) throw new UsageException($"{arg} needs a value");
            values[arg] = value;
        }
        return new Args(command, values) { Positional = bare };
    }

    /// <summary>Whether the argument was given (a flag, or an option with its value).</summary>
    public bool Has(string name) => values.ContainsKey(name);
    public string? String(string name) => values.GetValueOrDefault(name);
    public string Required(string name) => String(name) ?? throw new UsageException($"'{Command}' needs {name}");

    private OptionReader Reader => new(values.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!), name => name);
    public int? Int(string name, int min, int max) => Reader.Int(name, min, max);
    public long? Long(string name, long min, long max) => Reader.Long(name, min, max);
    public double? Double(string name, double min, double max) => Reader.Double(name, min, max);
    public int? Choice(string name, params int[] allowed) => Reader.Choice(name, allowed);
    public T? Enum<T>(string name) where T : struct, System.Enum => Reader.Enum<T>(name);
    public TimeSpan? Duration(string name) => Reader.Duration(name, TimeSpan.FromDays(365));

    /// <summary>The training options given as flags (--max-steps), read through the one table the JSON options use too.</summary>
    public TrainSettings TrainSettings()
    {
        var given = ImageGen.Core.Training.TrainSettings.Keys
            .Where(key => String(ImageGen.Core.Training.TrainSettings.CliFlag(key)) is not null)
            .ToDictionary(key => key, key => String(ImageGen.Core.Training.TrainSettings.CliFlag(key))!);
        return ImageGen.Core.Training.TrainSettings.Read(new OptionReader(given, ImageGen.Core.Training.TrainSettings.CliFlag));
    }
}

/// <summary>Bad command-line input: printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
