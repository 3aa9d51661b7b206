namespace ImageGen.Core.Data;

/// <summary>
/// Classes of a dropped dataset, read from where its images lie: each first-level sub-folder of the dataset is a class
/// (training-images/{dataset}/shirts/a.png is a shirt). An archive counts as unpacked where it lies, so
/// "clothes.zip:shirts/a.png" is a shirt too. A dataset is labelled only when every image lies in a sub-folder and
/// there are at least two of them; otherwise it has no classes and trains unconditionally.
/// </summary>
public static class DatasetClasses
{
    public const int MaxClasses = Models.ModelSpec.MaxClasses;

    /// <summary>Class names (ordinal order) and each image's class index, or null where the dataset is not labelled.</summary>
    public static (List<string> Names, List<int> Labels)? FromPaths(IReadOnlyList<string> imageNames)
    {
        var folders = imageNames.Select(FirstFolder).ToList();
        if (folders.Count == 0 || folders.Any(f => f is null)) return null;
        var names = folders.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (names.Count is < 2 or > MaxClasses) return null;
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n!, p => p.i, StringComparer.Ordinal);
        return (names!, folders.Select(f => index[f!]).ToList());
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
