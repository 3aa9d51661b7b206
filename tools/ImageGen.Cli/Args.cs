using System.Globalization;

namespace ImageGen.Cli;

/// <summary>A command's parsed options. Every lookup names the option in its error, with what it accepts.</summary>
public sealed class Args
{
    private readonly Dictionary<string, string?> values;
    public string Command { get; }

    private Args(string command, Dictionary<string, string?> values) { Command = command; this.values = values; }

    /// <summary>Parses "--name value" and "--flag" pairs; options not in valueOptions or flags are an error naming the allowed ones.</summary>
    public static Args Parse(string command, IReadOnlyList<string> args, string[] valueOptions, string[] flags)
    {
        var values = new Dictionary<string, string?>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string? inline = null;
            int eq = arg.IndexOf('=');
            if (arg.StartsWith("--") && eq > 0) { inline = arg[(eq + 1)..]; arg = arg[..eq]; }
            if (flags.Contains(arg)) { values[arg] = "true"; continue; }
            if (!valueOptions.Contains(arg))
                throw new UsageException($"'{command}' does not take '{arg}'; it takes {string.Join(", ", valueOptions.Concat(flags).Order())}");
            string? value = inline ?? (i + 1 < args.Count ? args[++i] : null);
            if (value is null) throw new UsageException($"{arg} needs a value");
            values[arg] = value;
        }
        return new Args(command, values);
    }

    public bool Has(string name) => values.ContainsKey(name);
    public bool Flag(string name) => values.ContainsKey(name);
    public string? String(string name) => values.GetValueOrDefault(name);
    public string Required(string name) => String(name) ?? throw new UsageException($"'{Command}' needs {name}");

    public int? Int(string name, int min, int max)
    {
        if (String(name) is not { } text) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new UsageException($"{name} '{text}' is not an integer in {min}..{max}");
        return value;
    }

    public long? Long(string name, long min, long max)
    {
        if (String(name) is not { } text) return null;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) || value < min || value > max)
            throw new UsageException($"{name} '{text}' is not an integer in {min}..{max}");
        return value;
    }

    public double? Double(string name, double min, double max)
    {
        if (String(name) is not { } text) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value >= min && value <= max))
            throw new UsageException($"{name} '{text}' is not a number in [{min}, {max}]");
        return value;
    }

    public int? Choice(string name, params int[] allowed)
    {
        if (String(name) is not { } text) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || !allowed.Contains(value))
            throw new UsageException($"{name} '{text}' is not one of {string.Join(", ", allowed)}");
        return value;
    }

    public T? Enum<T>(string name) where T : struct, System.Enum
    {
        if (String(name) is not { } text) return null;
        if (!System.Enum.TryParse<T>(text, ignoreCase: true, out var value) || int.TryParse(text, out _))
            throw new UsageException($"{name} '{text}' is not one of {string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
        return value;
    }

    /// <summary>Durations like 90s, 10m, 1h30m or 00:10:00.</summary>
    public TimeSpan? Duration(string name)
    {
        if (String(name) is not { } text) return null;
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero && text.Contains(':')) return span;
        var total = TimeSpan.Zero;
        var match = System.Text.RegularExpressions.Regex.Match(text, @"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$");
        if (match.Success && text.Length > 0)
        {
            total = TimeSpan.FromHours(match.Groups[1].Success ? int.Parse(match.Groups[1].Value) : 0)
                  + TimeSpan.FromMinutes(match.Groups[2].Success ? int.Parse(match.Groups[2].Value) : 0)
                  + TimeSpan.FromSeconds(match.Groups[3].Success ? int.Parse(match.Groups[3].Value) : 0);
            if (total > TimeSpan.Zero) return total;
        }
        throw new UsageException($"{name} '{text}' is not a positive duration such as 90s, 10m, 1h30m or 00:10:00");
    }
}

/// <summary>Bad command-line input: printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
