using System.Text;
using System.Text.Json;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Checkpoints;

/// <summary>
/// One file: magic, a JSON header, then named length-prefixed sections (module weights in TorchSharp's
/// format, optimizer states, RNG state). A reader can pull the generator alone and skip the rest.
/// </summary>
public static class Checkpoint
{
    private static readonly byte[] Magic = "IGCKPT01"u8.ToArray();
    public const string FileName = "checkpoint.ckpt";

    public static void Write(string path, CheckpointHeader header, IReadOnlyList<(string name, Action<BinaryWriter> write)> sections)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            Write(file, header, sections);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true); // readers never see a half-written checkpoint
    }

    public static void Write(Stream stream, CheckpointHeader header, IReadOnlyList<(string name, Action<BinaryWriter> write)> sections)
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(JsonSerializer.Serialize(header, Json.Compact));
        writer.Write(sections.Count);
        foreach (var (name, write) in sections)
        {
            using var buffer = new MemoryStream();
            using (var sectionWriter = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true)) write(sectionWriter);
            writer.Write(name);
            writer.Write(buffer.Length);
            buffer.Position = 0;
            buffer.CopyTo(stream);
        }
    }

    /// <summary>Sections as Read returned them, to write again unchanged (a copy of a checkpoint under another header).</summary>
    public static IReadOnlyList<(string name, Action<BinaryWriter> write)> SectionsAsRead(IReadOnlyDictionary<string, byte[]> sections) =>
        [.. sections.Select(s => (s.Key, (Action<BinaryWriter>)(w => w.Write(s.Value))))];

    /// <summary>A header is a few hundred bytes of JSON; anything claiming more is not one of ours.</summary>
    public const int MaxHeaderBytes = 64 * 1024;
    public const int MaxSections = 64;
    private const int MaxSectionNameBytes = 256;

    public static CheckpointHeader ReadHeader(string path)
    {
        using var file = File.OpenRead(path);
        return Truncated(() => ReadHeader(new BinaryReader(file)));
    }

    /// <summary>A file that ends between the checked parts (inside the magic, a count, a section's length) is refused as truncated.</summary>
    private static T Truncated<T>(Func<T> read)
    {
        try { return read(); }
        catch (EndOfStreamException e) { throw new InvalidDataException("checkpoint: the file ends early (truncated)", e); }
    }

    /// <summary>
    /// The magic and the header, checked before anything is allocated from them: the header's length, its JSON, and
    /// its spec against the allowed ranges and the parameter cap (a 1 KB file naming ngf 1500 or a 2 GB section is
    /// refused here, in milliseconds).
    /// </summary>
    private static CheckpointHeader ReadHeader(BinaryReader reader)
    {
        var magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic))
            throw new InvalidDataException("not an ImageGen checkpoint (bad magic)");
        string json = Encoding.UTF8.GetString(ReadPrefixed(reader, MaxHeaderBytes, "the header"));
        CheckpointHeader header;
        try
        {
            header = JsonSerializer.Deserialize<CheckpointHeader>(json, Json.Options)
                ?? throw new InvalidDataException("checkpoint header is empty");
        }
        catch (JsonException e) { throw new InvalidDataException($"checkpoint header is not valid JSON: {e.Message}", e); }
        // JSON may say null where the types say never: refused here, not met later as a NullReferenceException.
        if (header.Spec is null || header.Options is null || header.Classes is null || header.ClassSizes is null)
            throw new InvalidDataException("checkpoint header: spec, options, classes and classSizes must not be null");
        if (header.Classes.Count != header.Spec.Classes || (header.ClassSizes.Count != 0 && header.ClassSizes.Count != header.Spec.Classes))
            throw new InvalidDataException($"checkpoint header: {header.Classes.Count} class names and {header.ClassSizes.Count} class sizes " +
                                           $"for a model of {header.Spec.Classes} classes");
        try
        {
            header.Spec.Validate();
            header.Options.Validate(header.Spec.Kind);
        }
        catch (ArgumentException e) { throw new InvalidDataException($"checkpoint header: {e.Message}", e); }
        if (header.Step < 0 || header.Epoch < 0 || header.StepInEpoch < 0)
            throw new InvalidDataException($"checkpoint header: step {header.Step}, epoch {header.Epoch} and step in epoch {header.StepInEpoch} must not be negative");
        return header;
    }

    /// <summary>A length-prefixed run of bytes (BinaryWriter's string layout), refused past max or past the stream's end.</summary>
    private static byte[] ReadPrefixed(BinaryReader reader, int max, string what)
    {
        int length;
        try { length = reader.Read7BitEncodedInt(); }
        catch (FormatException e) { throw new InvalidDataException($"checkpoint: the length of {what} is malformed", e); }
        if (length < 0 || length > max) throw new InvalidDataException($"checkpoint: {what} claims {length} bytes, over the limit of {max}");
        CheckRemaining(reader.BaseStream, length, what);
        return reader.ReadBytes(length);
    }

    private static void CheckRemaining(Stream stream, long length, string what)
    {
        if (stream.CanSeek && length > stream.Length - stream.Position)
            throw new InvalidDataException($"checkpoint: {what} claims {length} bytes but only {stream.Length - stream.Position} remain (truncated or corrupt)");
    }

    /// <summary>
    /// Reads the header and the raw bytes of each wanted section (all when wanted is null); the others are skipped
    /// (seeked past where the stream allows, so a ranged blob stream never downloads them). Every declared length is
    /// checked against the bytes that remain before it is read, and sections past 2 GiB are refused (the option table
    /// keeps every model's sections well under that: ModelSpec.MaxParameters).
    /// </summary>
    public static (CheckpointHeader header, Dictionary<string, byte[]> sections) Read(Stream stream, ISet<string>? wanted = null) =>
        Truncated(() => ReadSections(stream, wanted));

    private static (CheckpointHeader header, Dictionary<string, byte[]> sections) ReadSections(Stream stream, ISet<string>? wanted)
    {
        using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        var header = ReadHeader(reader);
        int count = reader.ReadInt32();
        if (count is < 0 or > MaxSections) throw new InvalidDataException($"checkpoint: {count} sections, outside 0..{MaxSections}");
        var sections = new Dictionary<string, byte[]>();
        for (int i = 0; i < count; i++)
        {
            string name = Encoding.UTF8.GetString(ReadPrefixed(reader, MaxSectionNameBytes, $"section {i}'s name"));
            long length = reader.ReadInt64();
            if (length < 0 || length > Array.MaxLength)
                throw new InvalidDataException($"checkpoint: section '{name}' claims {length} bytes, outside 0..{Array.MaxLength} (2 GiB)");
            CheckRemaining(stream, length, $"section '{name}'");
            if (wanted is null || wanted.Contains(name))
            {
                var bytes = reader.ReadBytes((int)length);
                if (bytes.Length != length) throw new InvalidDataException($"checkpoint: section '{name}' ends after {bytes.Length} of its {length} bytes (truncated)");
                sections[name] = bytes;
            }
            else if (stream.CanSeek) stream.Seek(length, SeekOrigin.Current);
            else SkipBytes(stream, length);
        }
        return (header, sections);
    }

    private static void SkipBytes(Stream stream, long length)
    {
        var buffer = new byte[81920];
        while (length > 0)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, length));
            if (read == 0) throw new InvalidDataException("checkpoint: a section ends early (truncated)");
            length -= read;
        }
    }

    public static (CheckpointHeader header, Dictionary<string, byte[]> sections) Read(string path, ISet<string>? wanted = null)
    {
        using var file = File.OpenRead(path);
        return Read(file, wanted);
    }

    /// <summary>A checkpoint path: the file itself, or a run folder holding checkpoint.ckpt.</summary>
    public static string Resolve(string fileOrRunFolder)
    {
        if (File.Exists(fileOrRunFolder)) return fileOrRunFolder;
        string inFolder = Path.Combine(fileOrRunFolder, FileName);
        if (File.Exists(inFolder)) return inFolder;
        throw new FileNotFoundException($"no checkpoint at '{fileOrRunFolder}' (looked for the file and for {FileName} inside it)");
    }

    public static Action<BinaryWriter> ModuleSection(nn.Module module) => w => module.save(w);
    /// <summary>
    /// Loads a section into a module built from the header's spec: strict, so every parameter's name, type and shape
    /// must match the spec's (torch checks each shape before it reads the tensor's bytes). A mismatch is InvalidDataException naming the section.
    /// </summary>
    public static void LoadModule(nn.Module module, byte[] bytes, string section)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes, writable: false));
        try { module.load(reader, strict: true); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EndOfStreamException or FormatException or IOException)
        {
            throw new InvalidDataException($"checkpoint section '{section}' does not fit the model its header describes: {e.Message}", e);
        }
    }

    public static Action<BinaryWriter> RngSection() => w =>
    {
        using var state = torch.random.get_rng_state();
        var bytes = state.data<byte>().ToArray();
        w.Write(bytes.Length);
        w.Write(bytes);
    };

    /// <summary>Restores the generator state RngSection saved; a section of another length is refused before libtorch reads it.</summary>
    public static void RestoreRng(byte[] section)
    {
        using var current = torch.random.get_rng_state();
        long expected = current.shape[0];
        if (section.Length != sizeof(int) + expected || BitConverter.ToInt32(section) != expected)
            throw new InvalidDataException($"checkpoint section '{CheckpointSections.Rng}' holds {section.Length} bytes, not the {expected}-byte random state and its length");
        using var state = torch.tensor(section[sizeof(int)..], dtype: ScalarType.Byte);
        torch.random.set_rng_state(state);
    }
}
