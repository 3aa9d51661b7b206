using System.Text.Json;
using System.Text.RegularExpressions;

namespace ImageGen.Core.Data;

/// <summary>
/// Classes of a dropped dataset. Where a labels file lies at the dataset's top (labels.json or labels.csv, see
/// <see cref="ParseLabelsFile"/>), it alone names each image's class. Otherwise classes are read from where the images
/// lie: each first-level sub-folder of the dataset is a class (training-images/{dataset}/shirts/a.png is a shirt). An
/// archive counts as unpacked where it lies, so "clothes.zip:shirts/a.png" is a shirt too. A dataset is labelled only
/// when every image has a class and there are at least two of them; otherwise it trains unconditionally.
/// </summary>
public static partial class DatasetClasses
{
    public const int MaxClasses = Models.ModelSpec.MaxClasses;
    public const string LabelsJson = "labels.json";
    public const string LabelsCsv = "labels.csv";
    /// <summary>The labels files in the order they are read; where both lie, the first names the classes.</summary>
    public static readonly string[] LabelsFiles = [LabelsJson, LabelsCsv];
    /// <summary>A labels file of 32 MiB names about half a million images; anything bigger is refused unread.</summary>
    public const int MaxLabelsFileBytes = 32 * 1024 * 1024;
    public const int MaxClassNameLength = 64;

    /// <summary>Whether a name relative to the dataset's top is its labels file.</summary>
    public static bool IsLabelsFile(string relativeName) => relativeName is LabelsJson or LabelsCsv;

    /// <summary>
    /// Reads a labels file into image name to class name. labels.json is one object, {"shirts/a.png": "shirt", ...};
    /// labels.csv has one "image,class" line per image (a first line "file,class", "path,label" or the like is a
    /// header). Image names are relative to the dataset's top, an archive's member written "archive.zip:member.png" as
    /// the manifest writes it. Class names hold letters, digits, spaces and . _ - ( ) + only (a comma separates classes
    /// in a request). Throws InvalidDataException naming the file, the entry and the rule it breaks.
    /// </summary>
    public static Dictionary<string, string> ParseLabelsFile(string fileName, string text)
    {
        text = TextFiles.WithoutByteOrderMark(text);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string image, string className, string where)
        {
            image = image.Trim().Replace('\\', '/');
            className = className.Trim();
            if (image.Length == 0) throw new InvalidDataException($"{fileName}: {where} has no image name");
            if (!SafeClassName().IsMatch(className) || className.Length > MaxClassNameLength)
                throw new InvalidDataException($"{fileName}: {where}: class '{Cut(className)}' must be 1-{MaxClassNameLength} letters, digits, inner spaces or . _ - ( ) +");
            if (!labels.TryAdd(image, className) && labels[image] != className)
                throw new InvalidDataException($"{fileName}: {where}: '{Cut(image)}' is labelled twice ('{labels[image]}' and '{className}')");
        }

        if (fileName == LabelsJson)
        {
            JsonDocument document;
            try { document = JsonDocument.Parse(text); }
            catch (JsonException e) { throw new InvalidDataException($"{fileName} is not JSON: {e.Message}"); }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{fileName} must be one object of image name to class name, {{\"shirts/a.png\": \"shirt\"}}");
                foreach (var entry in document.RootElement.EnumerateObject())
                {
                    if (entry.Value.ValueKind != JsonValueKind.String)
                        throw new InvalidDataException($"{fileName}: '{Cut(entry.Name)}' must map to a class name (a string), not {entry.Value.ValueKind}");
                    Add(entry.Name, entry.Value.GetString()!, $"'{Cut(entry.Name)}'");
                }
            }
        }
        else if (fileName == LabelsCsv)
        {
            var lines = text.Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                string line = lines[i].TrimEnd('\r');
                if (line.Trim().Length == 0) continue;
                int comma = line.LastIndexOf(',');
                if (comma < 0) throw new InvalidDataException($"{fileName}: line {i + 1} is not 'image,class'");
                if (i == 0 && line[..comma].Trim().ToLowerInvariant() is "file" or "filename" or "path" or "image" or "name") continue; // a header
                Add(line[..comma], line[(comma + 1)..], $"line {i + 1}");
            }
        }
        else throw new ArgumentException($"'{fileName}' is not a labels file; use {LabelsJson} or {LabelsCsv}");

        int classes = labels.Values.Distinct(StringComparer.Ordinal).Count();
        if (classes > MaxClasses) throw new InvalidDataException($"{fileName} names {classes} classes, over the limit of {MaxClasses}");
        return labels;
    }

    /// <summary>
    /// Class names (ordinal order) and each image's class index from a labels file: the classes of the images packed.
    /// Null when they are fewer than two. Every image must have a label (the packer refuses those without).
    /// </summary>
    public static (List<string> Names, List<int> Labels)? FromLabels(IReadOnlyList<string> imageNames, IReadOnlyDictionary<string, string> labels)
    {
        var classes = imageNames.Select(n => labels[n]).ToList();
        var names = classes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (names.Count < 2) return null;
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        return (names, classes.Select(c => index[c]).ToList());
    }

    private static string Cut(string text) => text.Length <= 80 ? text : text[..77] + "...";

    /// <summary>
    /// Why an image cannot be packed where its first folder (FirstFolder) would name its class, or null: the folder's name
    /// breaks the rule a class name keeps (a labels file's, and the upload's for names). A class name travels in a
    /// response header (X-Classes, ASCII only) and in comma-separated requests, so "café" or "a,b" could not be served.
    /// </summary>
    public static string? FolderClassRejection(string imageName) =>
        FirstFolder(imageName) is { } folder && (!SafeClassName().IsMatch(folder) || folder.Length > MaxClassNameLength)
            ? $"its folder '{Cut(folder)}' would be its class, and a class name must be 1-{MaxClassNameLength} letters, digits, inner spaces or . _ - ( ) +: " +
              $"rename the folder, or name the classes in {LabelsJson}"
            : null;

    /// <summary>Spaces inside only: "cats " and "cats" would be two classes that classes= (which trims) could not tell apart.</summary>
    [GeneratedRegex(@"^[A-Za-z0-9._\-()+](?:[A-Za-z0-9 ._\-()+]*[A-Za-z0-9._\-()+])?\z")]
    private static partial Regex SafeClassName();

    /// <summary>Class names (ordinal order) and each image's class index, or null where the dataset is not labelled.</summary>
    public static (List<string> Names, List<int> Labels)? FromPaths(IReadOnlyList<string> imageNames)
    {
        var folders = imageNames.Select(FirstFolder).ToList();
        if (folders.Count == 0 || folders.Any(f => f is null)) return null;
        var names = folders.Select(f => f!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (names.Count is < 2 or > MaxClasses) return null;
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        return (names, folders.Select(f => index[f!]).ToList());
    }

    /// <summary>The first folder of an image's path with archives unpacked in place; null for an image at the top.</summary>
    public static string? FirstFolder(string imageName)
    {
        string path = imageName.Replace('\\', '/');
        int colon = path.IndexOf(':');
        while (colon > 0 && !ArchiveNames.IsArchive(path[..colon])) colon = path.IndexOf(':', colon + 1);
        if (colon > 0)
        {
            string archive = path[..colon];
            int slash = archive.LastIndexOf('/');
            path = (slash >= 0 ? archive[..(slash + 1)] : "") + path[(colon + 1)..];
        }
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 ? parts[0] : null;
    }
}

/// <summary>The archive formats a drop may hold, by name.</summary>
public static class ArchiveNames
{
    public static bool IsArchive(string name) =>
        name.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".tar", StringComparison.OrdinalIgnoreCase) ||
        name.EndsWith(".tar.gz", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase);
}
