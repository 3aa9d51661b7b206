using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using ImageGen.Core.Data;
using ImageGen.Core.Models;

namespace ImageGen.Core.Training;

/// <summary>A bad option value: the message names the option as its source spells it and what it accepts.</summary>
public sealed class OptionException(string message) : ArgumentException(message);

/// <summary>
/// Typed reads of named option values (text as given), each checked against its range. Keys are looked up by
/// their camelCase name; <paramref name="display"/> turns it into the name the user wrote (--max-steps, maxSteps).
/// </summary>
public sealed class OptionReader(IReadOnlyDictionary<string, string> values, Func<string, string> display)
{
    public bool Has(string key) => values.ContainsKey(key);
    public string? String(string key) => values.GetValueOrDefault(key);
    public string Name(string key) => display(key);

    public int? Int(string key, int min, int max)
    {
        if (String(key) is not { } text) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new OptionException($"{Name(key)} '{text}' is not an integer in {min}..{max}");
        return value;
    }

    public long? Long(string key, long min, long max)
    {
        if (String(key) is not { } text) return null;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) || value < min || value > max)
            throw new OptionException($"{Name(key)} '{text}' is not an integer in {min}..{max}");
        return value;
    }

    public double? Double(string key, double min, double max)
    {
        if (String(key) is not { } text) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value >= min && value <= max))
            throw new OptionException($"{Name(key)} '{text}' is not a number in [{min}, {max}]");
        return value;
    }

    public int? Choice(string key, params int[] allowed)
    {
        if (String(key) is not { } text) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || !allowed.Contains(value))
            throw new OptionException($"{Name(key)} '{text}' is not one of {string.Join(", ", allowed)}");
        return value;
    }

    public T? Enum<T>(string key) where T : struct, Enum
    {
        if (String(key) is not { } text) return null;
        // TryParse alone takes "rmsprop,sgd" (flags syntax) and numbers: only a single defined name is a value.
        if (!System.Enum.TryParse<T>(text, ignoreCase: true, out var value) || int.TryParse(text, out _) || text.Contains(',') || !System.Enum.IsDefined(value))
            throw new OptionException($"{Name(key)} '{text}' is not one of {string.Join(", ", System.Enum.GetNames<T>().Select(JsonNamingPolicy.CamelCase.ConvertName))}");
        return value;
    }

    /// <summary>true or false (also on, off, yes, no, 1, 0).</summary>
    public bool? Bool(string key)
    {
        if (String(key) is not { } text) return null;
        return text.ToLowerInvariant() switch
        {
            "true" or "on" or "yes" or "1" => true,
            "false" or "off" or "no" or "0" => false,
            _ => throw new OptionException($"{Name(key)} '{text}' is not true or false"),
        };
    }

    /// <summary>
    /// A comma-separated set of a flags enum's names ("translation,cutout"), "off" for none or "all" for every one.
    /// </summary>
    public T? Flags<T>(string key) where T : struct, Enum
    {
        if (String(key) is not { } text) return null;
        var names = System.Enum.GetValues<T>().Where(v => Convert.ToInt64(v) != 0).ToDictionary(v => v.ToString().ToLowerInvariant());
        string accepted = $"off, all, or a comma-separated set of {string.Join(", ", names.Keys)}";
        string trimmed = text.Trim().ToLowerInvariant();
        if (trimmed is "off" or "none") return default(T);
        if (trimmed == "all") return (T)System.Enum.ToObject(typeof(T), names.Values.Aggregate(0L, (a, v) => a | Convert.ToInt64(v)));
        long bits = 0;
        foreach (string part in trimmed.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!names.TryGetValue(part, out var value)) throw new OptionException($"{Name(key)} '{text}' is not {accepted}");
            bits |= Convert.ToInt64(value);
        }
        return (T)System.Enum.ToObject(typeof(T), bits);
    }

    /// <summary>Durations like 90s, 10m, 1h30m or 00:10:00, positive and at most max.</summary>
    public TimeSpan? Duration(string key, TimeSpan max)
    {
        if (String(key) is not { } text) return null;
        string expected = $"a positive duration such as 90s, 10m, 1h30m or 00:10:00, at most {Describe(max)}";
        TimeSpan? span = null;
        if (text.Contains(':'))
        {
            if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var parsed)) span = parsed;
        }
        else if (Regex.Match(text, @"^(?:(\d{1,18})h)?(?:(\d{1,18})m)?(?:(\d{1,18})s)?$") is { Success: true } match && text.Length > 0)
        {
            // Counted in decimal: 99999999999h is a duration past the limit, not an overflow.
            decimal seconds = 0;
            foreach (var (group, unit) in new[] { (1, 3600m), (2, 60m), (3, 1m) })
                if (match.Groups[group].Success) seconds += decimal.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) * unit;
            span = seconds <= (decimal)max.TotalSeconds ? TimeSpan.FromSeconds((double)seconds) : TimeSpan.MaxValue;
        }
        if (span is not { } value || value <= TimeSpan.Zero) throw new OptionException($"{Name(key)} '{text}' is not {expected}");
        if (value > max) throw new OptionException($"{Name(key)} '{text}' is over the limit of {Describe(max)}");
        return value;
    }

    private static string Describe(TimeSpan span) => span.TotalHours >= 1 && span.TotalHours == Math.Floor(span.TotalHours)
        ? $"{span.TotalHours:0}h" : span.ToString("c", CultureInfo.InvariantCulture);
}

/// <summary>
/// What to train and how: the model's shape and the training options. One table of options read from the
/// CLI's flags (--max-steps) and from a dataset's imagegen.json or an HTTP request (maxSteps), with the same
/// ranges and messages, so the two never drift apart.
/// </summary>
public sealed record TrainSettings(ModelSpec Spec, TrainOptions Options)
{
    /// <summary>The publish gate, read from the same JSON (not a training flag: the CLI trains without publishing).</summary>
    public PublishPolicy Publish { get; init; } = new();
    /// <summary>The share of a drop's images ingest keeps out of training for the near-copy baseline (DatasetHoldOut).</summary>
    public double HoldOut { get; init; } = DatasetHoldOut.DefaultShare;

    /// <summary>Every training option by its camelCase name; the CLI flag is the kebab-case of the same name.</summary>
    public static readonly string[] Keys =
    [
        "model", "imageSize", "channels", "nz", "ngf", "ndf", "epochs", "maxSteps", "timeBudget", "batchSize",
        "optimizer", "lr", "beta1", "beta2", "momentum", "loss", "klWeight", "ema", "augment", "ada", "modeSeeking", "xflip", "fitPrior", "conditional", "clusters", "seed", "sampleEvery",
    ];

    /// <summary>Every key a JSON object of options may hold: the training options and the publish gate's.</summary>
    public static readonly string[] JsonKeys = [.. Keys, WarmStartKey, HoldOutKey, .. PublishPolicy.Keys];

    /// <summary>A pipeline choice (start from the published model), so it is a JSON key and no CLI flag: the CLI says --init-from.</summary>
    public const string WarmStartKey = "warmStart";
    /// <summary>An ingest choice, so a JSON key and no CLI flag: the CLI trains on every image it is given.</summary>
    public const string HoldOutKey = "holdOut";

    public static TrainSettings Default { get; } = new(ModelSpec.DefaultFor(ModelKind.Dcgan), new TrainOptions());

    public static TrainSettings Read(OptionReader values, TrainingLimits? limits = null)
    {
        limits ??= TrainingLimits.Default;
        var kind = values.Enum<ModelKind>("model") ?? ModelKind.Dcgan;
        var defaults = ModelSpec.DefaultFor(kind);
        var spec = defaults with
        {
            ImageSize = values.Choice("imageSize", ModelSpec.SupportedImageSizes) ?? 32,
            Channels = values.Choice("channels", ModelSpec.SupportedChannels) ?? 1,
            LatentSize = values.Int("nz", 1, 4096) ?? defaults.LatentSize,
            Ngf = values.Int("ngf", 1, 1024) ?? defaults.Ngf,
            Ndf = values.Int("ndf", 1, 1024) ?? defaults.Ndf,
        };
        var options = new TrainOptions
        {
            Epochs = values.Int("epochs", 1, limits.MaxEpochs),
            MaxSteps = values.Long("maxSteps", 1, limits.MaxSteps),
            TimeBudget = values.Duration("timeBudget", limits.MaxTimeBudget),
            BatchSize = values.Int("batchSize", 1, TrainOptions.MaxBatchSize) ?? 64,
            Optimizer = values.Enum<OptimizerKind>("optimizer") ?? OptimizerKind.Adam,
            Lr = values.Double("lr", 1e-9, 10),
            Beta1 = values.Double("beta1", 0, 0.999999),
            Beta2 = values.Double("beta2", 0, 0.999999) ?? 0.999,
            Momentum = values.Double("momentum", 0, 0.999999),
            Loss = values.Enum<LossKind>("loss"),
            KlWeight = values.Double("klWeight", 0, 1000),
            EmaImages = values.Int("ema", 0, 100_000_000),
            Augment = values.Flags<Augmentations>("augment"),
            Ada = values.Bool("ada") ?? false,
            ModeSeeking = values.Double("modeSeeking", 0, 100),
            XFlip = values.Bool("xflip") ?? false,
            FitPrior = values.Bool("fitPrior"),
            Conditional = values.Bool("conditional"),
            Clusters = values.Int("clusters", 0, TrainOptions.MaxClusters),
            WarmStart = values.Bool(WarmStartKey) ?? true,
            Seed = values.Int("seed", 0, int.MaxValue),
            SampleEveryEpochs = values.Int("sampleEvery", 1, 1_000_000) ?? 1,
        };
        try
        {
            spec.Validate();
            spec.ValidateSize(limits.MaxParameters);
            options.Validate(kind);
        }
        catch (ArgumentException e) when (e is not OptionException) { throw new OptionException(e.Message); }
        return new TrainSettings(spec, options)
        {
            Publish = PublishPolicy.Read(values), HoldOut = values.Double(HoldOutKey, 0, DatasetHoldOut.MaxShare) ?? DatasetHoldOut.DefaultShare,
        };
    }

    /// <summary>--max-steps for maxSteps.</summary>
    public static string CliFlag(string key) => "--" + Regex.Replace(key, "[A-Z]", m => "-" + char.ToLowerInvariant(m.Value[0]));

    /// <summary>
    /// Reads a JSON object of options (imagegen.json, an HTTP body). Unknown keys and values of the wrong JSON type
    /// are errors naming the key; <paramref name="source"/> prefixes every message.
    /// </summary>
    public static Dictionary<string, string> ParseJsonObject(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(TextFiles.WithoutByteOrderMark(json), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new OptionException($"{source} is not valid JSON: {e.Message}"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new OptionException($"{source} must be a JSON object such as {{\"model\": \"dcgan\", \"maxSteps\": 2000}}");
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!JsonKeys.Contains(property.Name))
                    throw new OptionException($"{source}: unknown key '{property.Name}'; known keys: {string.Join(", ", JsonKeys)}");
                if (values.ContainsKey(property.Name))
                    throw new OptionException($"{source}: '{property.Name}' is given twice; keep one");
                values[property.Name] = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString()!,
                    JsonValueKind.Number => property.Value.GetRawText(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => throw new OptionException($"{source}: '{property.Name}' must be a number, a string or true/false, not {property.Value.ValueKind.ToString().ToLowerInvariant()}"),
                };
            }
            return values;
        }
    }

    /// <summary>Reads option values gathered from JSON, naming each error after its key and source.</summary>
    public static TrainSettings FromValues(IReadOnlyDictionary<string, string> values, string source, TrainingLimits? limits = null)
    {
        try { return Read(new OptionReader(values, key => key), limits); }
        catch (OptionException e) { throw new OptionException($"{source}: {e.Message}"); }
    }
}
