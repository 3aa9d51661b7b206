using System.Text.RegularExpressions;
using ImageGen.Core.Data;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Ingest;

/// <summary>
/// The checks a file passes before it is put into training-images/{dataset}/ by the upload endpoint or by
/// <c>imagegen drop</c>: the same limits ingest applies later (an image's size, format and dimensions, and that its
/// pixels decode; an archive's size; the options file's keys and values), so a file refused here would have been refused there, only later.
/// </summary>
public static partial class DropFiles
{
    /// <summary>Longest relative name accepted, in characters.</summary>
    public const int MaxNameLength = 256;
    /// <summary>Largest imagegen.json accepted, as for a train request's options.</summary>
    public const int MaxOptionsBytes = 16 * 1024;
    public static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>Why a relative name (sub-folders separated by '/') cannot be used under the dataset, or null.</summary>
    public static string? NameRejection(string name)
    {
        if (string.IsNullOrEmpty(name)) return "the file has no name";
        if (name.Length > MaxNameLength) return $"the name is {name.Length} characters, over the {MaxNameLength}-character limit";
        if (!SafeName().IsMatch(name)) return "the name may hold letters, digits, spaces and . _ - ( ) + only, with '/' between folders";
        if (name.Split('/').Any(part => part is "" or "." or ".." || part.StartsWith('.')))
            return "no part of the name may be empty or start with '.'";
        if (!IsImageName(name) && !ArchiveReader.IsArchive(name) && name != StorageLayout.OptionsFile && !DatasetClasses.IsLabelsFile(name))
            return $"not an image or archive name: use {string.Join(", ", ImageExtensions)}, .zip, .tar or .tar.gz " +
                   $"(or {StorageLayout.OptionsFile} for the options, {DatasetClasses.LabelsJson} or {DatasetClasses.LabelsCsv} at the top for the classes)";
        return null;
    }

    public static bool IsImageName(string name) => ImageExtensions.Contains(Path.GetExtension(name).ToLowerInvariant());

    /// <summary>Why a file cannot go into a dataset, or null when it can: its name, then its bytes.</summary>
    public static string? Rejection(string name, byte[] data, TrainingLimits? trainingLimits = null, DecodeLimits? decodeLimits = null, ArchiveLimits? archiveLimits = null)
    {
        if (NameRejection(name) is { } badName) return badName;
        if (name == StorageLayout.OptionsFile)
        {
            // The dataset's options, checked as a run would read them: every key known, every value in range.
            if (data.Length > MaxOptionsBytes) return $"{name} is {data.Length} bytes, over the {MaxOptionsBytes}-byte limit";
            try { TrainSettings.FromValues(TrainSettings.ParseJsonObject(System.Text.Encoding.UTF8.GetString(data), name), name, trainingLimits); }
            catch (OptionException e) { return e.Message.StartsWith(name + ": ") ? e.Message[(name.Length + 2)..] : e.Message; } // named by the caller
            return null;
        }
        if (DatasetClasses.IsLabelsFile(name))
        {
            // Read as ingest reads it; a labels file ingest would refuse is refused here.
            if (data.Length > DatasetClasses.MaxLabelsFileBytes) return $"{name} is {data.Length} bytes, over the {DatasetClasses.MaxLabelsFileBytes}-byte limit";
            try { DatasetClasses.ParseLabelsFile(name, System.Text.Encoding.UTF8.GetString(data)); }
            catch (InvalidDataException e) { return e.Message; }
            return null;
        }
        if (ArchiveReader.IsArchive(name)) return ArchiveSizeRejection(data.Length, archiveLimits);
        // Decoding to a tiny size runs every check ingest runs, truncated pixel data included.
        return ImageDecoder.Decode(data, imageSize: 4, channels: 1, decodeLimits).Rejection;
    }

    /// <summary>An archive is checked by its size alone here; ingest reads its members, each against the limits.</summary>
    public static string? ArchiveSizeRejection(long length, ArchiveLimits? archiveLimits = null)
    {
        long max = (archiveLimits ?? ArchiveLimits.Default).MaxArchiveBytes;
        return length == 0 ? "empty file (0 bytes)" : length > max ? $"archive is {length} bytes, over the {max}-byte limit" : null;
    }

    [GeneratedRegex(@"^[A-Za-z0-9 ._\-()+/]+\z")] // \z: $ would let a final newline through
    private static partial Regex SafeName();
}
